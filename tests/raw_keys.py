"""Finding raw quantity keys and ASCII units in what people read (pages, report, CLI output).

A key such as `relative_humidity` or a unit such as `degC` is shown only where the quantity
table (core.quantities) has no label for it. A key inside an identifier people type, such as
the sensor name `tp-air-01/relative_humidity`, is a name, not a label, and is not counted.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from livinglab_platform.core.quantities import QUANTITIES, unit_symbol

# The ASCII spellings devices send that the table writes otherwise (`degC` -> `°C`); one-letter
# spellings (`C`) would match ordinary words.
ASCII_UNITS = tuple(
    u for u in ("degC", "ug/m3", "µg/m3", "dBA", "%RH") if unit_symbol(u) != u
)
# A key that is its own English label (`temperature`) is an ordinary word.
KEYS = tuple(k for k, q in QUANTITIES.items() if q.label["en"] != k)
_RAW = re.compile(
    r"(?<![\w/.-])("
    + "|".join(re.escape(w) for w in (*KEYS, *ASCII_UNITS))
    + r")(?![\w/])"
)


class _Text(HTMLParser):
    """The text of a page as people read it: no attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def raw_words(text: str) -> list[str]:
    """The raw keys and ASCII units in `text`."""
    return _RAW.findall(text)
