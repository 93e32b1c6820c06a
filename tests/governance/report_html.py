"""Reading the report's HTML back with the standard library's parser: every element that carries
`data-` attributes, with its attributes and its text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "wbr",
    }
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[Element] = []
        self.found: list[Element] = []
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag in _VOID:
            return
        element = Element(tag, values)
        self.stack.append(element)
        if any(k.startswith("data-") for k in values):
            self.found.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.parts.append(data)


@dataclass(frozen=True)
class Parsed:
    elements: list[Element]
    tags: list[tuple[str, dict[str, str]]]

    def having(self, attribute: str) -> list[Element]:
        """Elements carrying `attribute`, in document order."""
        return [e for e in self.elements if attribute in e.attrs]

    def one(self, attribute: str, value: str) -> Element:
        found = [e for e in self.elements if e.attrs.get(attribute) == value]
        assert len(found) == 1, (attribute, value, len(found))
        return found[0]


def parse(html: str) -> Parsed:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return Parsed(elements=parser.found, tags=parser.tags)
