"""`livinglab governance evidence ...`: links, statements and stored files, and their verification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import console, operator, unit_of_work
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.governance import evidence, evidence_files
from livinglab_platform.governance.schemas import EvidenceCreate, RecordKind

__all__ = ["evidence_app"]

evidence_app = typer.Typer(
    help="Evidence: links, statements and stored files, and their verification.",
    no_args_is_help=True,
)


@evidence_app.command("add")
def evidence_add(
    record: Annotated[RecordKind, typer.Argument(help="form, meeting or application")],
    record_id: int,
    title: Annotated[str, typer.Option(show_default=False)],
    url: Annotated[str | None, typer.Option(help="A link: documented")] = None,
    statement: Annotated[str, typer.Option(help="Without a link: self-reported")] = "",
    file: Annotated[
        Path | None,
        typer.Option(
            help="A document to store (PDF, PNG, JPEG, OpenDocument, .docx/.xlsx/.pptx):"
            " documented",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Attach a link, a stored file or a statement to a record."""
    max_bytes = ApiSettings().evidence_max_bytes
    content = _read_limited(file, max_bytes) if file is not None else b""
    if file is not None and url is None and not statement.strip():
        statement = f"The stored file {file.name}."
    with unit_of_work() as conn:
        made = evidence.add_evidence(
            conn,
            operator(),
            evidence=EvidenceCreate(
                record=record,
                record_id=record_id,
                title=title,
                url=url,
                statement=statement,
            ),
        )
        if file is not None:
            made = evidence_files.attach_file(
                conn,
                operator(),
                made.id,
                name=file.name,
                content=content,
                max_bytes=max_bytes,
            )
    console.print(
        f"evidence {made.id} on {record.value} {record_id}: {made.quality.value}"
        + (f", {made.file_media_type}, sha256 {made.file_sha256}" if file else "")
    )


def _read_limited(path: Path, max_bytes: int) -> bytes:
    # One byte more than the limit is enough to refuse it, however large the file is.
    with path.open("rb") as source:
        return source.read(max_bytes + 1)


@evidence_app.command("verify")
def evidence_verify(evidence_id: int) -> None:
    """Mark a link as checked by you, now."""
    with unit_of_work() as conn:
        made = evidence.verify_evidence(conn, operator(), evidence_id)
    console.print(f"evidence {made.id} verified by {made.verified_by}")
