"""Reading an import file, CSV or YAML, into numbered rows of column -> value.

CSV: UTF-8 (a spreadsheet's byte-order mark is skipped), a header row naming the columns, comma
or semicolon separated (a Slovenian spreadsheet writes semicolons); rows are numbered as a
spreadsheet shows them, the header being row 1; an empty cell is a value left out. YAML: a list
of mappings, rows numbered from 1. YAML's floats are kept as the text written (`1500000.10`
stays exact on its way to a Decimal), never turned into binary floats.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_FILE_BYTES", "Row", "SheetError", "read_rows"]

# A record of a city's decade is a few hundred rows; a file far larger is a mistake.
MAX_FILE_BYTES = 10 * 1024 * 1024


class SheetError(Exception):
    """A file that cannot be read as rows at all; `row` is where reading stopped, if anywhere."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class Row:
    """One row of a file: its number as the file's reader sees it, and its cells."""

    number: int
    values: dict[str, Any]


class _ExactLoader(yaml.SafeLoader):
    """YAML's safe loader, with floats left as their text (for exact decimals)."""


def _float_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _float_as_text)


def _csv_rows(text: str) -> list[Row]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise SheetError(f"not a CSV file: {exc}", row=reader.line_num) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise SheetError("no header row naming the columns", row=1)
    header = [cell.strip() for cell in records[0]]
    if len(set(header)) != len(header) or "" in header:
        raise SheetError("the header names each column once, none empty", row=1)
    rows = []
    for number, cells in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line between rows
        if len(cells) > len(header):
            raise SheetError(
                f"{len(cells)} cells but {len(header)} columns", row=number
            )
        values = {
            name: cell.strip()
            for name, cell in zip(header, cells, strict=False)
            if cell.strip()
        }
        rows.append(Row(number, values))
    return rows


def _yaml_rows(text: str) -> list[Row]:
    try:
        document = yaml.load(
            text, Loader=_ExactLoader
        )  # a SafeLoader: no objects built
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SheetError(
            f"not a YAML file: {getattr(exc, 'problem', None) or exc}",
            row=mark.line + 1 if mark is not None else None,
        ) from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise SheetError("a YAML import is a list of rows (mappings)")
    rows = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise SheetError("each row is a mapping of column: value", row=number)
        rows.append(Row(number, {k: v for k, v in item.items() if v is not None}))
    return rows


def read_rows(path: Path) -> list[Row]:
    """The rows of a .csv, .yaml or .yml file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise SheetError("an import file is .csv, .yaml or .yml")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SheetError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise SheetError(exc.strerror or str(exc)) from None
    return _csv_rows(text) if suffix == ".csv" else _yaml_rows(text)
