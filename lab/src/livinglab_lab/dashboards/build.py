"""Generate the dashboards' JSON (`dashboards/json/<uid>.json`) and list every panel's queries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from livinglab_lab.dashboards.boards import BOARDS, TRIAL_TRANSITIONS
from livinglab_lab.dashboards.panels import DATASOURCE

__all__ = ["JSON_DIR", "Query", "generate", "queries", "write"]

JSON_DIR = Path(__file__).resolve().parents[4] / "dashboards" / "json"


@dataclass(frozen=True)
class Query:
    """One query of a dashboard: a panel's target, a variable's or the annotations'."""

    uid: str
    title: str  # the panel's, or `$name` for a variable, `annotations`
    sql: str
    table: bool


def generate() -> dict[str, str]:
    """Each dashboard's JSON text by uid, as committed."""
    out = {}
    for uid, make in BOARDS.items():
        model: dict[str, Any] = json.loads(JSONEncoder().encode(make().build()))
        if uid == "livinglab-trial":
            _annotate(model)
        out[uid] = (
            json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return out


def _annotate(model: dict[str, Any]) -> None:
    for annotation in model["annotations"]["list"]:
        if annotation.get("name") == "Stanja poskusa":
            annotation["target"] = {
                "refId": "Anno",
                "rawSql": TRIAL_TRANSITIONS.strip(),
                "format": "table",
                "rawQuery": True,
                "editorMode": "code",
                "datasource": DATASOURCE.to_json(),
            }


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for uid, text in generate().items():
        path = directory / f"{uid}.json"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def queries(models: dict[str, dict[str, Any]]) -> Iterator[Query]:
    """Every SQL query in these dashboard models (as read from their JSON)."""
    for uid, model in models.items():
        for var in model.get("templating", {}).get("list", []):
            yield Query(uid, f"${var['name']}", var["query"], True)
        for annotation in model.get("annotations", {}).get("list", []):
            target = annotation.get("target") or {}
            if "rawSql" in target:
                yield Query(uid, "annotations", target["rawSql"], True)
        for panel in model.get("panels", []):
            for target in panel.get("targets", []):
                yield Query(
                    uid, panel["title"], target["rawSql"], target["format"] == "table"
                )
