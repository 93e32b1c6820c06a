"""Pushing the data source, the folder and the dashboards to an existing Grafana, idempotently.

Invariants:

- Nothing is written that is already there: each object is read first (the data source by uid,
  the folder by uid, each dashboard by uid) and written only when it is missing or differs, so a
  second push makes no write and says so.
- A dashboard is compared on the keys of its file (`id` and `version` are Grafana's): what Grafana
  adds on save does not count as a difference. A dashboard in the folder that no file has is
  reported and left alone, never deleted.
- Grafana never returns a data source's password, so it cannot be compared: it is written when
  the data source is created or changed, or when the caller asks (`write_password`).
- The same names as the provisioning files (dashboards/provisioning/): data source uid
  `livinglab-timescaledb`, folder `livinglab`.

Only Grafana's legacy `/api/...` routes are used (grafana-client's). Checked against a loopback
stub of those routes in the tests, not against a real Grafana.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from livinglab_platform.core.errors import ConfigurationError

__all__ = [
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "PushReport",
    "connect",
    "datasource_model",
    "load_dashboards",
    "push",
]

DATASOURCE_UID = "livinglab-timescaledb"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_NAME = "livinglab TimescaleDB"
FOLDER_UID = "livinglab"
FOLDER_TITLE = "livinglab"
# Keys of a dashboard that Grafana sets itself and that a file leaves out.
_SERVER_KEYS = frozenset({"id", "version"})
TIMEOUT_S = 10.0


@dataclass
class PushReport:
    """What a push did, by object (`datasource ...`, `folder ...`, `dashboard UID`)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Dashboards in the folder that no file holds: left as they are.
    foreign: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def load_dashboards(folder: Path) -> list[dict[str, Any]]:
    """Every `*.json` dashboard model in `folder`, by file name; each needs a uid and a title."""
    dashboards = []
    for path in sorted(folder.glob("*.json")):
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"{path}: not a dashboard JSON file ({exc})"
            ) from exc
        if (
            not isinstance(model, dict)
            or not model.get("uid")
            or not str(model.get("title", "")).strip()
        ):
            raise ConfigurationError(f"{path}: a dashboard needs a uid and a title")
        dashboards.append(model)
    return dashboards


def datasource_model(
    *, url: str, user: str, database: str, sslmode: str
) -> dict[str, Any]:
    """The data source as Grafana's API takes it, without its password (see the provisioning
    file dashboards/provisioning/datasources/timescaledb.yaml, which says the same)."""
    return {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": url,
        "user": user,
        "jsonData": {
            "database": database,
            "sslmode": sslmode,
            "postgresVersion": 1500,
            "timescaledb": True,
            "timeInterval": "10s",
            "maxOpenConns": 10,
            "maxIdleConns": 10,
            "connMaxLifetime": 14400,
        },
    }


def connect(url: str, *, token: str) -> GrafanaApi:
    """A client for Grafana at `url` with a service account token (sent as a Bearer token)."""
    api: GrafanaApi = GrafanaApi.from_url(
        url.rstrip("/"), credential=token, timeout=TIMEOUT_S
    )
    return api


def _get(read: Any, *args: Any) -> dict[str, Any] | None:
    """A read that answers 404 when the object does not exist."""
    try:
        return dict(read(*args))
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


def _same(ours: Any, theirs: Any) -> bool:
    """Whether every key we set has our value in Grafana's copy (extra keys of theirs ignored)."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            _same(value, theirs.get(key)) for key, value in ours.items()
        )
    return bool(ours == theirs)


def _push_datasource(
    api: GrafanaApi,
    report: PushReport,
    *,
    model: dict[str, Any],
    password: str,
    write_password: bool,
) -> None:
    name = f"datasource {DATASOURCE_UID}"
    existing = _get(api.datasource.get_datasource_by_uid, DATASOURCE_UID)
    body = {**model, "secureJsonData": {"password": password}}
    if existing is None:
        api.datasource.create_datasource(body)
        report.created.append(name)
    elif write_password or not _same(model, existing):
        api.datasource.update_datasource_by_uid(DATASOURCE_UID, body)
        report.updated.append(name)
    else:
        report.unchanged.append(name)


def _push_folder(api: GrafanaApi, report: PushReport) -> None:
    name = f"folder {FOLDER_UID}"
    existing = _get(api.folder.get_folder, FOLDER_UID)
    if existing is None:
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        report.created.append(name)
    elif existing.get("title") != FOLDER_TITLE:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        report.updated.append(name)
    else:
        report.unchanged.append(name)


def _push_dashboard(
    api: GrafanaApi, report: PushReport, *, model: dict[str, Any]
) -> None:
    uid = str(model["uid"])
    name = f"dashboard {uid}"
    ours = {key: value for key, value in model.items() if key not in _SERVER_KEYS}
    existing = _get(api.dashboard.get_dashboard, uid)
    if existing is not None:
        folder = existing.get("meta", {}).get("folderUid")
        if folder == FOLDER_UID and _same(ours, existing.get("dashboard")):
            report.unchanged.append(name)
            return
    api.dashboard.update_dashboard(
        {
            "dashboard": {**ours, "id": None},
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "livinglab dashboards push",
        }
    )
    (report.created if existing is None else report.updated).append(name)


def push(
    api: GrafanaApi,
    *,
    dashboards: list[dict[str, Any]],
    datasource: dict[str, Any],
    password: str,
    write_password: bool = False,
) -> PushReport:
    """Create or update the data source, the folder and every dashboard; write nothing that is
    already as it should be. Raises ConfigurationError with a message a person can act on."""
    report = PushReport()
    try:
        _push_datasource(
            api,
            report,
            model=datasource,
            password=password,
            write_password=write_password,
        )
        _push_folder(api, report)
        for model in dashboards:
            _push_dashboard(api, report, model=model)
        ours = {str(model["uid"]) for model in dashboards}
        # Grafana's search by folder uid (this client's search_dashboards knows only folder ids).
        found = api.client.GET(f"/search?type=dash-db&folderUIDs={FOLDER_UID}")
        report.foreign = sorted(
            str(hit["uid"]) for hit in found if hit.get("uid") not in ours
        )
    except GrafanaException as exc:
        message, about = _explain(exc)
        raise ConfigurationError(message, field=about) from exc
    except OSError as exc:  # requests' connection errors (refused, unknown host, TLS)
        raise ConfigurationError(
            f"cannot reach Grafana ({exc}); check --url", field="url"
        ) from exc
    return report


def _explain(exc: GrafanaException) -> tuple[str, str | None]:
    """The message and the input it is about."""
    if exc.status_code == 401:
        return (
            "Grafana refused the token (401 Unauthorized); check --token or GRAFANA_TOKEN",
            "token",
        )
    if exc.status_code == 403:
        return (
            "Grafana's token may not do this (403 Forbidden): its service account needs the"
            " Admin role to write data sources",
            "token",
        )
    if exc.status_code == 0:
        return f"cannot reach Grafana ({exc.message}); check --url", "url"
    return f"Grafana answered {exc.status_code}: {exc.message}", None
