"""What the commands share at the terminal: consoles, the operator, the database, dates, errors."""

from __future__ import annotations

import contextlib
import csv
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import pydantic
import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from livinglab_edge_agent.wire import DEVICE_ID_RULE, SENSOR_KEY_RULE
from livinglab_platform.access import Principal, cli_principal
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import PlatformError
from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.schema import Day, EndMoment, Moment
from livinglab_platform.core.settings import IngestSettings

__all__ = [
    "FORMATS",
    "Column",
    "FormatOption",
    "ListFormat",
    "PlatformGroup",
    "console",
    "err",
    "format_moment",
    "format_size",
    "is_stdout",
    "operator",
    "output",
    "parse_day",
    "parse_end",
    "parse_moment",
    "print_listing",
    "print_table",
    "show_utc",
    "unit_of_work",
]

console = Console()
err = Console(stderr=True)

# Exit status of a command refused by the platform (bad input, unknown object, broker down),
# as distinct from 1 (a failed demo or check) and click's own usage errors (also 2).
REFUSED = 2


def operator() -> Principal:
    """The person at the terminal: an operator, named `cli:<user>` in the audit trail."""
    return cli_principal(getpass.getuser())


@contextlib.contextmanager
def unit_of_work() -> Iterator[Connection]:
    """The command's one transaction on LIVINGLAB_DATABASE_URL: committed when its work ends,
    rolled back when it fails."""
    with db.connect(IngestSettings().database_url) as conn, db.unit_of_work(conn):
        yield conn


# The CLI speaks English: numbers as English writes them, units from the quantity table.
FORMATS = Formats("en")
# `livinglab --utc ...`: times in UTC for machines; people read Ljubljana's clock by default.
_SHOWN_IN_UTC = False

_START: pydantic.TypeAdapter[datetime] = pydantic.TypeAdapter(Moment)
_END: pydantic.TypeAdapter[datetime] = pydantic.TypeAdapter(EndMoment)


def show_utc(utc: bool) -> None:
    """Show the times of this run in UTC (the root command's `--utc`)."""
    global _SHOWN_IN_UTC
    _SHOWN_IN_UTC = utc


def _parse(text: str, adapter: pydantic.TypeAdapter[datetime]) -> datetime:
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date or date-time, e.g. 2026-05-01 or 2026-05-01T08:00+02:00"
        ) from None
    try:
        return adapter.validate_python(text.strip())
    except pydantic.ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise typer.BadParameter(f"{text!r} {reason}") from None


def parse_moment(text: str) -> datetime:
    """A moment or a period's start as the API takes it (`core.schema.Moment`): a date is its
    Ljubljana day's first instant, a date-time without an offset is Ljubljana's clock."""
    return _parse(text, _START)


def parse_end(text: str) -> datetime:
    """A period's end (`core.schema.EndMoment`): a date is included whole, so the instant after
    its Ljubljana day; a date-time is exact (and excluded)."""
    return _parse(text, _END)


_DAY: pydantic.TypeAdapter[date] = pydantic.TypeAdapter(Day)


def parse_day(text: str) -> date:
    """A calendar day of Ljubljana (`core.schema.Day`), typed as 2025-12-31."""
    try:
        return _DAY.validate_python(text.strip())
    except pydantic.ValidationError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO date such as 2025-12-31"
        ) from None


def format_moment(moment: datetime | None) -> str:
    """A moment to the minute with its zone: Ljubljana's (CET/CEST), or UTC under `--utc`."""
    return FORMATS.moment(moment, utc=_SHOWN_IN_UTC)


class ListFormat(StrEnum):
    """How a listing prints: a table for people, JSON or CSV for scripts."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    ListFormat,
    typer.Option(
        "--format", help="table for people; json or csv (ISO 8601 times) for scripts"
    ),
]


@dataclass(frozen=True)
class Column:
    """A listing's column: its key in JSON and CSV, its title and how the table shows a value."""

    key: str
    title: str = ""
    right: bool = False
    # The table's text (rich markup allowed); JSON and CSV get the value itself.
    show: Callable[[Any], str] | None = None

    def text(self, value: object) -> str:
        if self.show is not None:
            return self.show(value)
        if value is None:
            return "-"
        if isinstance(value, datetime):
            return format_moment(value)
        if isinstance(value, date):
            return FORMATS.day(value)
        if isinstance(value, StrEnum):
            return value.value
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value) or "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int | Decimal):
            return f"{value:,}"
        return str(value)


def _plain(value: object) -> object:
    """A value as JSON and CSV carry it: times as ISO 8601 with their offset (UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_table(table: RenderableType) -> None:
    """A table on stdout: fitted to a terminal; elsewhere (a pipe, a file) as wide as its values,
    so that no cell is wrapped or cut at 80 columns."""
    if console.is_terminal:
        console.print(table)
    else:
        # Not expanded, a table is only as wide as its widest values, whatever the width allows.
        Console(width=100_000, no_color=True, highlight=False).print(table)


def print_listing(
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    *,
    output_format: ListFormat,
) -> None:
    """The one way every listing command prints its rows (`--format table|json|csv`)."""
    if output_format is ListFormat.table:
        table = Table(title=title)
        for column in columns:
            table.add_column(
                column.title or column.key.replace("_", " "),
                justify="right" if column.right else "left",
            )
        for row in rows:
            table.add_row(*(c.text(v) for c, v in zip(columns, row, strict=True)))
        print_table(table)
        return
    records = [
        {c.key: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows
    ]
    if output_format is ListFormat.json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(c.key for c in columns)
    for record in records:
        writer.writerow(
            "; ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)
            for v in record.values()
        )


def format_size(size: int) -> str:
    """A file size for people: 812 B, 10.1 kB, 162.5 MB."""
    if size < 1_000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1e3:.1f} kB"
    return f"{size / 1e6:,.1f} MB"


def is_stdout(path: Path) -> bool:
    """`-o -` means standard output."""
    return str(path) == "-"


@contextlib.contextmanager
def output(path: Path) -> Iterator[BinaryIO]:
    """Write to `path` (or stdout for `-`) so that a failed command leaves no partial file behind."""
    if is_stdout(path):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    if path.exists() and not path.is_file():
        # A device or a pipe (`-o /dev/null`, a FIFO): written in place. Renaming a partial file
        # over it would replace the device with a regular file, for every program on the machine.
        with path.open("wb") as stream:
            yield stream
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as stream:
            yield stream
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _describe(exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"])
        value = error["input"]
        if not field:  # a rule across fields, e.g. an end before the start
            problems.append(str(error["msg"]).removeprefix("Value error, "))
        elif error["type"] == "string_pattern_mismatch":
            # pydantic would quote the regular expression; say what it means instead.
            if field.endswith("email"):
                form = "an e-mail address"
            elif field.endswith("key"):
                form = SENSOR_KEY_RULE
            else:
                form = DEVICE_ID_RULE
            problems.append(f"{field} {value!r} must be {form}")
        elif isinstance(value, str | int | float):
            problems.append(f"{field} {value!r}: {error['msg']}")
        else:
            problems.append(f"{field}: {error['msg']}")
    return "invalid input: " + "; ".join(problems)


class PlatformGroup(TyperGroup):
    """The root command: a refusal by the platform becomes one red line and exit status 2."""

    # `Any`: the click Context that TyperGroup.invoke takes lives in typer's private vendored click.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PlatformError as exc:
            message = str(exc)
        except pydantic.ValidationError as exc:
            message = _describe(exc)
        # soft_wrap: one line whatever the terminal's width, so scripts can grep it.
        err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
        raise typer.Exit(code=REFUSED)
