"""Evidence files: stored by operators, typed by content, limited in size, digested, and read by
everyone who reads the governance record. Each refusal is the attack."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from fastapi.testclient import TestClient

from livinglab_platform.api import create_app
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.governance.evidence_files import MULTIPART_OVERHEAD
from tests.api.conftest import broker_settings
from tests.governance import files
from tests.governance.record import form

G = "/api/v1/governance"
SMALL = 4096  # the evidence limit of `small_client`


@pytest.fixture
def small_client(world) -> Iterator[TestClient]:
    settings = ApiSettings(database_url=world.dsn, evidence_max_bytes=SMALL)
    with TestClient(create_app(settings, broker_settings(None))) as test_client:
        yield test_client


def _statement(conn: psycopg.Connection) -> int:
    """A form with one statement-only (self-reported) piece of evidence; its id."""
    form(conn, "mol_family", ["mol", "lab"], date(2025, 1, 1), statement="Signed")
    row = conn.execute("SELECT id FROM evidence ORDER BY id DESC").fetchone()
    assert row is not None
    return int(row[0])


def _upload(client, world, evidence_id: int, name: str, content: bytes, who="operator"):
    return client.post(
        f"{G}/evidence/{evidence_id}/file",
        files={"file": (name, content, "application/octet-stream")},
        headers=world.headers(who),
    )


def _stored(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM evidence WHERE file_content IS NOT NULL"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_pdf_named_png_is_stored_as_a_pdf_with_its_digest(client, world, conn):
    evidence_id = _statement(conn)
    r = _upload(client, world, evidence_id, "minutes.png", files.PDF)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["file_media_type"] == "application/pdf"
    assert shown["file_sha256"] == hashlib.sha256(files.PDF).hexdigest()
    assert shown["file_bytes"] == len(files.PDF)
    assert shown["quality"] == "documented"  # it was self-reported
    # Shown with the record, too, and the database holds the same digest.
    record = client.get(f"{G}/forms", headers=world.headers("viewer")).json()
    assert record[0]["evidence"][0]["file_sha256"] == shown["file_sha256"]
    row = conn.execute(
        "SELECT encode(sha256(file_content), 'hex') = file_sha256 FROM evidence"
    ).fetchone()
    assert row == (True,)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("agreement.pdf", files.odt()),
        ("agreement.pdf", files.docx()),
        ("photo.jpg", files.PNG),
        ("scan.bin", b"\xff\xd8\xff\xe0" + b"\x00" * 16),
    ],
    ids=["odt", "docx", "png", "jpeg"],
)
def test_each_listed_type_is_taken(client, world, conn, name, content):
    r = _upload(client, world, _statement(conn), name, content)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "content",
    [files.HTML, files.ELF, files.EXE, files.plain_zip(), files.docm(), b"%PD"],
    ids=["html", "elf", "exe", "zip", "docm", "truncated-pdf"],
)
def test_a_page_or_program_named_pdf_is_refused(client, world, conn, content):
    # The attack: a script or program stored as "evidence" and handed to every reader.
    r = _upload(client, world, _statement(conn), "minutes.pdf", content)
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["file"]
    assert "not a PDF, PNG, JPEG" in r.json()["detail"]
    assert "content, not its name" in r.json()["detail"]
    assert _stored(conn) == 0


@pytest.mark.parametrize("who", ["partner", "viewer"])
def test_a_partner_or_viewer_cannot_upload(client, world, conn, who):
    # The attack: making a record documented with a file of one's own.
    evidence_id = _statement(conn)
    r = _upload(client, world, evidence_id, "minutes.pdf", files.PDF, who=who)
    assert r.status_code == 403, r.text
    assert "only operators" in r.json()["detail"]
    assert _stored(conn) == 0


def test_a_stored_file_is_never_replaced(client, world, conn):
    # The attack: swapping the document behind a verified piece of evidence.
    evidence_id = _statement(conn)
    assert _upload(client, world, evidence_id, "a.pdf", files.PDF).status_code == 200
    verify = client.post(
        f"{G}/evidence/{evidence_id}/verify", headers=world.headers("operator")
    )
    assert verify.status_code == 200, verify.text
    assert verify.json()["quality"] == "verified"
    r = _upload(client, world, evidence_id, "b.pdf", files.PDF + b"changed")
    assert r.status_code == 409, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["file"]
    row = conn.execute("SELECT file_content FROM evidence").fetchone()
    assert row is not None
    assert bytes(row[0]) == files.PDF


@pytest.mark.parametrize("who", ["operator", "partner", "viewer"])
def test_everyone_who_reads_the_record_downloads_the_file(client, world, conn, who):
    evidence_id = _statement(conn)
    _upload(client, world, evidence_id, "zapisnik seje.pdf", files.PDF)
    r = client.get(f"{G}/evidence/{evidence_id}/file", headers=world.headers(who))
    assert r.status_code == 200, r.text
    assert r.content == files.PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "zapisnik%20seje.pdf" in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-checksum-sha256"] == hashlib.sha256(files.PDF).hexdigest()


def test_no_one_signed_out_downloads_a_file(client, world, conn):
    evidence_id = _statement(conn)
    _upload(client, world, evidence_id, "a.pdf", files.PDF)
    r = client.get(f"{G}/evidence/{evidence_id}/file")
    assert r.status_code == 401, r.text
    assert files.PDF not in r.content


def test_evidence_without_a_file_has_none_to_download(client, world, conn):
    evidence_id = _statement(conn)
    for url in (f"{G}/evidence/{evidence_id}/file", f"{G}/evidence/99999/file"):
        r = client.get(url, headers=world.headers("viewer"))
        assert r.status_code == 404, r.text


def test_a_file_over_the_evidence_limit_is_refused_naming_the_field(
    small_client, world, conn
):
    content = files.PDF + b"\x00" * (SMALL + 1 - len(files.PDF))
    r = _upload(small_client, world, _statement(conn), "big.pdf", content)
    assert r.status_code == 413, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["file"]
    assert _stored(conn) == 0
    # At the limit exactly, it is taken.
    r = _upload(small_client, world, _statement(conn), "big.pdf", content[:SMALL])
    assert r.status_code == 200, r.text


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(
    small_client, world, conn
):
    # The attack: a body far larger than any file, declared or streamed, to fill memory or disk.
    evidence_id = _statement(conn)
    too_much = SMALL + MULTIPART_OVERHEAD + 1
    r = _upload(small_client, world, evidence_id, "big.pdf", files.PDF * too_much)
    assert r.status_code == 413, r.text
    assert r.json()["errors"] == []  # refused before the route ran

    def pieces() -> Iterator[bytes]:
        for _ in range(too_much // 1024 + 2):
            yield b"-" * 1024

    r = small_client.post(
        f"{G}/evidence/{evidence_id}/file",
        content=pieces(),
        headers=world.headers("operator")
        | {"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 413, r.text
    assert _stored(conn) == 0


def test_the_upload_takes_more_than_other_routes_and_only_it(client, world, conn):
    # Over LIVINGLAB_API_MAX_BODY_BYTES (1 MiB), under the evidence limit (10 MiB).
    limit = ApiSettings().api_max_body_bytes
    content = files.PDF + b"\x00" * (2 * limit)
    r = _upload(client, world, _statement(conn), "scan.pdf", content)
    assert r.status_code == 200, r.text
    assert r.json()["file_bytes"] == len(content)
    r = client.post(
        f"{G}/evidence",
        content=b" " * (2 * limit),
        headers=world.headers("operator") | {"Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    r = client.post(
        f"{G}/evidence/1/verify",
        files={"file": ("scan.pdf", content, "application/pdf")},
        headers=world.headers("operator"),
    )
    assert r.status_code == 413, r.text
