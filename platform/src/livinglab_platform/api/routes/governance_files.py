"""Evidence files: the upload (operators) and the download (everyone who reads the record).

The upload is the one route whose body may exceed LIVINGLAB_API_MAX_BODY_BYTES: `Limits` gives it
LIVINGLAB_EVIDENCE_MAX_BYTES plus the multipart's own room (`evidence_upload_limit`), and refuses
a larger body with 413 before it is read. A download is always an attachment, never sniffed and
sandboxed, so a stored file is never shown as a page of the platform's origin.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response

from livinglab_platform.api.deps import ConnDep, CurrentPrincipal, EvidenceMaxBytes
from livinglab_platform.api.limits import BodyLimit
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.governance import evidence_files
from livinglab_platform.governance.schemas import EvidencePublic

__all__ = ["evidence_upload_limit", "router"]

router = APIRouter(prefix="/governance", tags=["governance"])

UPLOAD_PATH = re.compile(r"/api/v1/governance/evidence/[0-9]+/file")


def evidence_upload_limit(settings: ApiSettings) -> BodyLimit:
    """The upload route's body limit, for `Limits`."""
    return (
        "POST",
        UPLOAD_PATH,
        settings.evidence_max_bytes + evidence_files.MULTIPART_OVERHEAD,
    )


@router.post("/evidence/{evidence_id}/file")
def upload_evidence_file(
    conn: ConnDep,
    principal: CurrentPrincipal,
    max_bytes: EvidenceMaxBytes,
    evidence_id: int,
    file: Annotated[
        UploadFile,
        File(description="PDF, PNG, JPEG, OpenDocument or .docx/.xlsx/.pptx"),
    ],
) -> EvidencePublic:
    """Store a document with this evidence: it becomes documented (operators). One file each."""
    # One byte more than the limit is enough to know the file is too large.
    content = file.file.read(max_bytes + 1)
    return evidence_files.attach_file(
        conn,
        principal,
        evidence_id,
        name=file.filename or "evidence",
        content=content,
        max_bytes=max_bytes,
    )


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/evidence/{evidence_id}/file",
    response_class=Response,
    responses={
        200: {
            "description": "The stored file as an attachment, with its media type;"
            " `X-Checksum-SHA256` is its digest",
            "content": dict.fromkeys(evidence_files.MEDIA_TYPES, _BINARY),
        }
    },
)
def download_evidence_file(
    conn: ConnDep, principal: CurrentPrincipal, evidence_id: int
) -> Response:
    """The evidence's stored file (everyone who reads the governance record)."""
    found = evidence_files.read_file(conn, principal, evidence_id)
    fallback = found.name.encode("ascii", "replace").decode().replace('"', "'")
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{fallback}";'
            f" filename*=UTF-8''{quote(found.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Checksum-SHA256": found.sha256,
        },
    )
