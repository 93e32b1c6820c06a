"""The yearly report as one self-contained HTML document (inline CSS and SVG, nothing fetched),
and the pieces the web page shares with it: numbers and dates in the reader's language, and the
monthly bar charts.

Slovenian writes `1.234.567,89`, `99,9 %` and `5. 12. 2026`; English `1,234,567.89`, `99.9%` and
`5 December 2026`. The page (web/templates/governance.html) and the document
(web/templates/report.html) both include web/templates/report_body.html with the same context.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jinja2

from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.formatting import Formats
from livinglab_platform.governance.report import Report
from livinglab_platform.governance.texts import translate

__all__ = [
    "BarChart",
    "Formats",
    "bar_chart",
    "context",
    "render_document",
    "render_pdf",
]

_STYLE = Path(__file__).parents[1] / "web" / "static" / "style.css"

# The charts' drawing box, in SVG user units; CSS scales it to the page's width.
CHART_WIDTH = 600
CHART_HEIGHT = 220
_TOP = 24  # room for the value above the tallest bar
_BOTTOM = 24  # room for the month labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    text_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    baseline: float
    bars: list[Bar]


def bar_chart(
    title: str, values: list[int], labels: list[str], shown: list[str]
) -> BarChart:
    """Bars of `values` scaled so the largest fills the box; `shown` is each value as text."""
    top = max(values, default=0) or 1
    slot = CHART_WIDTH / max(len(values), 1)
    usable = CHART_HEIGHT - _TOP - _BOTTOM
    baseline = CHART_HEIGHT - _BOTTOM
    bars = []
    for i, (value, label, text) in enumerate(zip(values, labels, shown, strict=True)):
        height = usable * value / top
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.15, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                label=label,
                value=text if value else "",
                text_x=round(i * slot + slot / 2, 2),
            )
        )
    return BarChart(
        title=title,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        baseline=baseline,
        bars=bars,
    )


def context(report: Report, lang: str) -> dict[str, Any]:
    """What report_body.html reads, in `lang` (sl unless "en")."""
    fmt = Formats(lang)
    labels = [fmt.month(m.month) for m in report.months]
    t = partial(translate, lang)
    charts = [
        bar_chart(
            t("report.readings_chart"),
            [m.readings for m in report.months],
            labels,
            [_short(m.readings, fmt) for m in report.months],
        ),
        bar_chart(
            t("report.devices_chart"),
            [m.devices for m in report.months],
            labels,
            [fmt.integer(m.devices) for m in report.months],
        ),
    ]
    return {"report": report, "fmt": fmt, "charts": charts}


def _short(value: int, fmt: Formats) -> str:
    """A bar's label: thousands as k, millions as M, to keep it narrower than the bar."""
    if value >= 1_000_000:
        return fmt.localise(f"{value / 1e6:.1f}") + " M"
    if value >= 10_000:
        return fmt.localise(f"{value / 1e3:.0f}") + " k"
    return fmt.integer(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("livinglab_platform.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_document(report: Report, *, lang: str = "sl") -> str:
    """The report as one HTML document: the pages' stylesheet inlined, charts as inline SVG."""
    return _ENV.get_template("report.html").render(
        lang="en" if lang == "en" else "sl",
        t=partial(translate, lang),
        style=_STYLE.read_text(encoding="utf-8"),
        **context(report, lang),
    )


def render_pdf(html: str) -> bytes:
    """The document laid out as PDF by WeasyPrint (the `pdf` extra, with Debian's Pango)."""
    try:
        import weasyprint  # the optional `pdf` extra: imported only when a PDF is asked for
    except (ImportError, OSError) as exc:  # OSError: the package is there, Pango is not
        raise InvalidInputError(
            "a PDF needs WeasyPrint and Pango: pip install 'livinglab-platform[pdf]' and"
            f" apt-get install libpango-1.0-0 libpangoft2-1.0-0 ({exc}); or write .html",
            field="output",
        ) from None
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
