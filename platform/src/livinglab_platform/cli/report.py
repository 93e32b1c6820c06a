"""`livinglab report`: the yearly report to the Strategic Council, as one self-contained document."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import (
    console,
    format_size,
    is_stdout,
    operator,
    output,
    unit_of_work,
)
from livinglab_platform.governance import document
from livinglab_platform.governance.dates import FIRST_YEAR, LAST_YEAR
from livinglab_platform.governance.report import build_report

__all__ = ["report"]


class Language(StrEnum):
    sl = "sl"
    en = "en"


def report(
    year: Annotated[
        int, typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help="Calendar year")
    ],
    output_path: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="File to write (.html, or .pdf); `-` for stdout (HTML)",
            show_default=False,
        ),
    ],
    lang: Annotated[
        Language, typer.Option("--lang", help="Slovenian (default) or English")
    ] = Language.sl,
) -> None:
    """The year's report: verdict, indicators with evidence, the milestone, applications, the
    council's decisions, trials and their outcomes, devices and data per month, with charts."""
    pdf = output_path.suffix.lower() == ".pdf"
    with unit_of_work() as conn:
        found = build_report(conn, operator(), year=year)
    html = document.render_document(found, lang=lang.value)
    body = document.render_pdf(html) if pdf else html.encode("utf-8")
    with output(output_path) as out:
        out.write(body)
    if is_stdout(output_path):
        return
    verdict = found.indicators.verdict
    console.print(
        f"report {year} ({lang.value}): {verdict.en if lang is Language.en else verdict.sl};"
        f" written to {output_path} ({format_size(output_path.stat().st_size)})"
    )
