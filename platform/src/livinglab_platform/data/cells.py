"""CSV cells a spreadsheet reads as text: every CSV the platform writes goes through here.

Excel, LibreOffice and Google Sheets run a cell that begins with `=`, `+`, `-` or `@` as a
formula (`=HYPERLINK(...)` sends data away, `=cmd|...` ran programs through DDE), and a tab or a
line break before one of them does not stop all of them. Partners write the text that ends up in
exports and dossiers (a sensor's quantity and unit, reasons, titles, audit details), so, as OWASP's
CSV injection page recommends, a text cell beginning with one of these characters gets a single
quote in front, which spreadsheets show as text. Only text is touched: numeric columns stay
numbers (a negative reading is not a formula), and Parquet keeps the exact text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FORMULA_STARTS", "csv_text", "text_cell", "text_columns"]

# OWASP's formula triggers (=, +, -, @, tab, carriage return), and a line feed, which a
# spreadsheet treats like the carriage return before it.
FORMULA_STARTS = "=+-@\t\r\n"
_FORMULA = "^([" + re.escape(FORMULA_STARTS) + "])"


def text_cell(value: str) -> str:
    """`value` as a spreadsheet shows it as text: with a quote in front if it could be a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS and value else value


def text_columns(table: pa.Table) -> pa.Table:
    """The table with every text column's cells made safe (`text_cell`), all at once in Arrow."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            safe = pc.replace_substring_regex(
                table.column(index), pattern=_FORMULA, replacement=r"'\1"
            )
            table = table.set_column(index, field, safe)
    return table


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A CSV document (header, then rows) of text cells, each made safe (`text_cell`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([text_cell(name) for name in header])
    writer.writerows([text_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
