"""Evidence files: a document stored with its evidence row (migration 008), checked before it is.

- The type is read from the content, never from the name: a PDF named `.png` is a PDF, and an
  HTML page or a program named `.pdf` is refused. `MEDIA_TYPES` is the whole list: PDF, PNG,
  JPEG, OpenDocument text/spreadsheet/presentation (a ZIP whose first entry `mimetype` names the
  type) and Office Open XML .docx/.xlsx/.pptx (a ZIP whose `[Content_Types].xml` names the main
  part; macro-enabled documents name another type and are refused).
- A file is at most `max_bytes` (LIVINGLAB_EVIDENCE_MAX_BYTES); the API's body limit for the
  upload route is that plus `MULTIPART_OVERHEAD`, so a larger body is refused before it is read.
- Its SHA-256 is stored beside it (the database checks the two agree) and shown with the evidence.
- One file per evidence row: a stored file is never replaced, so a verification stays about the
  file that was checked. A different document is new evidence.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from psycopg.rows import class_row

from livinglab_platform import audit
from livinglab_platform.access import (
    Principal,
    require_record_keeper,
    require_record_reader,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooLargeError,
)
from livinglab_platform.governance.evidence import get_evidence
from livinglab_platform.governance.schemas import EvidencePublic

__all__ = [
    "MEDIA_TYPES",
    "MULTIPART_OVERHEAD",
    "EvidenceFile",
    "attach_file",
    "media_type_of",
    "read_file",
]

# The room a multipart body takes around its one file: boundaries, part headers, the file name.
MULTIPART_OVERHEAD = 16 * 1024

_ODF = "application/vnd.oasis.opendocument."
_OOXML = "application/vnd.openxmlformats-officedocument."
# Each OOXML type and the content type of its main part in `[Content_Types].xml`.
_OOXML_MAIN = {
    f"{_OOXML}wordprocessingml.document": f"{_OOXML}wordprocessingml.document.main+xml",
    f"{_OOXML}spreadsheetml.sheet": f"{_OOXML}spreadsheetml.sheet.main+xml",
    f"{_OOXML}presentationml.presentation": f"{_OOXML}presentationml.presentation.main+xml",
}
_ODF_TYPES = (f"{_ODF}text", f"{_ODF}spreadsheet", f"{_ODF}presentation")
MEDIA_TYPES = ("application/pdf", "image/png", "image/jpeg", *_ODF_TYPES, *_OOXML_MAIN)
_MAGIC = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
# A container's type entries are a few hundred bytes; nothing larger is read from the ZIP.
_ENTRY_LIMIT = 64 * 1024

_REFUSED = (
    "is not a PDF, PNG, JPEG, OpenDocument or Office (.docx, .xlsx, .pptx) file;"
    " its type is read from its content, not its name"
)


@dataclass(frozen=True)
class EvidenceFile:
    name: str
    media_type: str
    sha256: str
    content: bytes


def _zip_entry(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        with archive.open(name) as entry:
            return entry.read(_ENTRY_LIMIT)
    except KeyError:
        return None


def _container_type(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if names[:1] == ["mimetype"]:
                declared = (_zip_entry(archive, "mimetype") or b"").decode(
                    "ascii", "replace"
                )
                return declared if declared in _ODF_TYPES else None
            types = _zip_entry(archive, "[Content_Types].xml") or b""
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
        return None
    found = [t for t, main in _OOXML_MAIN.items() if f'"{main}"'.encode() in types]
    return found[0] if len(found) == 1 else None


def media_type_of(name: str, content: bytes, *, max_bytes: int) -> str:
    """The file's media type from its content, or an error naming the field `file`."""
    if len(content) > max_bytes:
        raise TooLargeError(
            f"{name!r} has {len(content)} bytes; evidence files take at most {max_bytes}",
            field="file",
        )
    if not content:
        raise InvalidInputError(f"{name!r} is empty", field="file")
    for magic, media_type in _MAGIC.items():
        if content.startswith(magic):
            return media_type
    if content.startswith(b"PK\x03\x04") and (found := _container_type(content)):
        return found
    raise InvalidInputError(f"{name!r} {_REFUSED}", field="file")


def _clean_name(name: str) -> str:
    # Only the last part of a path, and no control characters: it goes into a header.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip()[:200]
    return cleaned or "evidence"


def attach_file(
    conn: Connection,
    principal: Principal,
    evidence_id: int,
    *,
    name: str,
    content: bytes,
    max_bytes: int,
) -> EvidencePublic:
    """Store a document with this evidence (operators); it becomes documented evidence."""
    require_record_keeper(principal, "attach evidence files")
    media_type = media_type_of(name, content, max_bytes=max_bytes)
    found = get_evidence(conn, evidence_id)
    if found.file_sha256 is not None:
        raise ConflictError(
            f"evidence {evidence_id} has a file already; add new evidence for another",
            field="file",
        )
    digest = hashlib.sha256(content).hexdigest()
    with conn.transaction():
        conn.execute(
            "UPDATE evidence SET file_name = %s, file_media_type = %s, file_sha256 = %s,"
            " file_content = %s, file_added_at = now() WHERE id = %s",
            (_clean_name(name), media_type, digest, content, evidence_id),
        )
        audit.record(
            conn,
            principal,
            object_type="evidence",
            object_id=evidence_id,
            action="attach_file",
            details={"media_type": media_type, "sha256": digest, "bytes": len(content)},
        )
    return get_evidence(conn, evidence_id)


def read_file(conn: Connection, principal: Principal, evidence_id: int) -> EvidenceFile:
    """The stored document, for whoever reads the governance record."""
    require_record_reader(principal)
    with conn.cursor(row_factory=class_row(EvidenceFile)) as cur:
        found = cur.execute(
            "SELECT file_name AS name, file_media_type AS media_type, file_sha256 AS sha256,"
            " file_content AS content FROM evidence"
            " WHERE id = %s AND file_content IS NOT NULL",
            (evidence_id,),
        ).fetchone()
    if found is None:
        get_evidence(conn, evidence_id)  # not found at all, or:
        raise NotFoundError(f"evidence {evidence_id} has no file", field="file")
    return found
