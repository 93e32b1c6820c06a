"""`livinglab export`: readings of devices, sensors or a trial to CSV or Parquet, streamed."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from livinglab_platform.cli.terminal import (
    console,
    err,
    format_size,
    is_stdout,
    operator,
    parse_end,
    parse_moment,
    unit_of_work,
)
from livinglab_platform.cli.terminal import output as open_output
from livinglab_platform.data import queries
from livinglab_platform.data.schemas import Format, Interval
from livinglab_platform.registry.sensor_names import sensor_ids

__all__ = ["export"]


def _progress(output: Path) -> Progress:
    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        # A bar only on a terminal: in a log or a pipe it is noise.
        disable=is_stdout(output) or not err.is_terminal,
    )


# Long only by its signature, which is the command's table of options.
def export(
    start: Annotated[
        datetime,
        typer.Option(
            parser=parse_moment,
            metavar="DATE",
            help="First day (Ljubljana), or a date-time (Ljubljana's clock without an offset)",
            show_default=False,
        ),
    ],
    end: Annotated[
        datetime,
        typer.Option(
            parser=parse_end,
            metavar="DATE",
            help="Last day, included (Ljubljana), or an exact date-time, excluded",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="File to write; `-` for stdout", show_default=False
        ),
    ],
    device: Annotated[
        list[str] | None,
        typer.Option(metavar="ID", help="Device id: all its sensors; repeatable"),
    ] = None,
    sensor: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DEVICE/KEY",
            help="Sensor, e.g. tp-air-01/air_temperature (names as `devices list` shows them;"
            " a numeric id works too); repeatable",
        ),
    ] = None,
    trial: Annotated[
        int | None,
        typer.Option(help="Trial id: its devices, inside their assignment periods"),
    ] = None,
    interval: Annotated[
        Interval,
        typer.Option(
            help="raw for every reading, a bucket (count, mean, min, max), or auto by range"
        ),
    ] = Interval.auto,
    file_format: Annotated[
        Format | None,
        typer.Option(
            "--format", help="Default: parquet for a .parquet file, otherwise csv"
        ),
    ] = None,
) -> None:
    """Export readings to CSV or Parquet, streamed from the database (memory stays flat)."""
    chosen = file_format or (
        Format.parquet if output.suffix == ".parquet" else Format.csv
    )
    # Imported here: pyarrow takes a moment to load, and only exports need it.
    from livinglab_platform.data import exports

    write = exports.write_parquet if chosen is Format.parquet else exports.write_csv
    started = time.monotonic()
    with unit_of_work() as conn:
        principal = operator()
        query = queries.DataQuery(
            start=start,
            end=end,
            sensor_ids=sensor_ids(conn, principal, sensor or (), trial_id=trial),
            device_ids=tuple(device or ()),
            trial_id=trial,
            interval=interval,
        )
        plan = queries.plan_query(conn, principal, query)
        progress = _progress(output)
        with progress, open_output(output) as out:
            # The estimate may be off (it comes from the hourly rollups or the planner): the bar
            # is a guide, the count at the end is exact.
            task = progress.add_task(
                "export", total=exports.estimate_rows(conn, plan) or None
            )
            rows = write(conn, plan, out, on_rows=lambda n: progress.advance(task, n))
    elapsed = time.monotonic() - started
    where = "stdout" if is_stdout(output) else str(output)
    size = "" if is_stdout(output) else f", {format_size(output.stat().st_size)}"
    # On stdout the data would mix with the summary, so it goes to stderr there.
    (err if is_stdout(output) else console).print(
        f"{rows:,} rows ({plan.interval.value} from {plan.source}) written to {where} as"
        f" {chosen.value}{size} in {elapsed:.1f} s",
        highlight=False,
    )
