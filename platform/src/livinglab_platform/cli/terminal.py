"""What the commands share at the terminal: consoles, the operator, the database, dates, errors."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pydantic
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from livinglab_edge_agent.wire import DEVICE_ID_RULE, SENSOR_KEY_RULE
from livinglab_platform.access import Principal, cli_principal
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import PlatformError
from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.schema import EndMoment, Moment
from livinglab_platform.core.settings import IngestSettings

__all__ = [
    "PlatformGroup",
    "console",
    "err",
    "format_moment",
    "format_size",
    "is_stdout",
    "operator",
    "output",
    "parse_end",
    "parse_moment",
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


def format_moment(moment: datetime | None) -> str:
    """A moment to the minute with its zone: Ljubljana's (CET/CEST), or UTC under `--utc`."""
    return FORMATS.moment(moment, utc=_SHOWN_IN_UTC)


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
