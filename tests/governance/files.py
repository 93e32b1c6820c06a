"""Small real files of each kind evidence takes, and some it must refuse, built in memory."""

from __future__ import annotations

import io
import zipfile

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HTML = b"<!DOCTYPE html><html><script>fetch('/api/v1/me')</script></html>"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
EXE = b"MZ\x90\x00" + b"\x00" * 64

_OOXML = "application/vnd.openxmlformats-officedocument"


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def odt() -> bytes:
    return _zip(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", b"<office:document-content/>"),
        ]
    )


def docx(main: str = f"{_OOXML}.wordprocessingml.document.main+xml") -> bytes:
    types = (
        '<?xml version="1.0"?><Types><Override PartName="/word/document.xml"'
        f' ContentType="{main}"/></Types>'
    )
    return _zip(
        [("[Content_Types].xml", types.encode()), ("word/document.xml", b"<w/>")]
    )


def docm() -> bytes:
    """A macro-enabled Word document: another main part type, refused."""
    return docx("application/vnd.ms-word.document.macroEnabled.main+xml")


def plain_zip() -> bytes:
    return _zip([("run.sh", b"#!/bin/sh\nrm -rf /\n")])
