"""`livinglab governance import` and `governance kpi`: the record in from files, the results out
as FIWARE KeyPerformanceIndicator entities (added to the governance group in `cli/__init__.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import (
    console,
    err,
    is_stdout,
    operator,
    output,
    unit_of_work,
)
from livinglab_platform.governance import kpi
from livinglab_platform.governance.importer import ImportKind, import_files, kind_of

__all__ = ["import_record", "kpi_entities"]


def import_record(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV or YAML files, one per record kind (forms, members, meetings,"
            " applications, evidence), named after their kind unless --kind says it",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    kind: Annotated[
        ImportKind | None,
        typer.Option(help="The kind of the (one) file: when its name does not say it"),
    ] = None,
) -> None:
    """Import an existing record from files, all or nothing, in one transaction."""
    if kind is not None and len(files) != 1:
        raise typer.BadParameter(
            "--kind names the kind of one file", param_hint="--kind"
        )
    with unit_of_work() as conn:
        taken = import_files(
            conn, operator(), files=[(path, kind_of(path, kind)) for path in files]
        )
    console.print(
        "imported "
        + ", ".join(f"{n} {k.value}" for k, n in taken.items() if n)
        + f" from {len(files)} file(s)"
        if any(taken.values())
        else "nothing to import: the files hold no rows"
    )


def kpi_entities(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="Calendar year")],
    out: Annotated[
        Path, typer.Option("--output", "-o", help="JSON file; - for stdout")
    ] = Path("-"),
) -> None:
    """The year's indicators, verdict and milestone as FIWARE KPI entities (NGSI-LD)."""
    with unit_of_work() as conn:
        entities = kpi.kpi_entities(conn, operator(), year=year)
    with output(out) as stream:
        stream.write(
            (json.dumps(entities, ensure_ascii=False, indent=2) + "\n").encode()
        )
    if not is_stdout(out):
        err.print(f"{len(entities)} KeyPerformanceIndicator entities to {out}")
