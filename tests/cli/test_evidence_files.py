"""`livinglab governance evidence add ... --file PATH`: a stored file, typed by content, limited in
size, shown with its digest."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from tests.api.world import seed
from tests.governance import files
from tests.governance.record import add_organisations


@pytest.fixture
def world(dsn):
    world = seed(dsn)
    with psycopg.connect(dsn) as conn:
        add_organisations(conn)
    return world


def _form(livinglab) -> None:
    livinglab(
        "governance", "forms", "add", "--kind", "mol_family", "--name", "Digitalna",
        "--member", "mol", "--starts", "2024-01-01",
    )  # fmt: skip


def _add(livinglab, path, code: int = 0, env: dict[str, str] | None = None):
    return livinglab(
        "governance", "evidence", "add", "form", "1", "--title", "Sklep",
        "--file", str(path), code=code, env=env,
    )  # fmt: skip


def test_a_file_is_stored_as_documented_evidence_with_its_digest(
    livinglab, world, tmp_path
):
    _form(livinglab)
    path = tmp_path / "sklep.png"  # a PDF, whatever its name says
    path.write_bytes(files.PDF)
    out = _add(livinglab, path).stdout
    assert "evidence 1 on form 1: documented" in out
    assert "application/pdf" in out
    assert hashlib.sha256(files.PDF).hexdigest() in out
    with psycopg.connect(world.dsn) as conn:
        row = conn.execute("SELECT file_content, file_name FROM evidence").fetchone()
    assert row is not None
    assert (bytes(row[0]), row[1]) == (files.PDF, "sklep.png")


def test_a_page_named_pdf_or_a_file_over_the_limit_is_refused(
    livinglab, world, tmp_path
):
    _form(livinglab)
    page = tmp_path / "sklep.pdf"
    page.write_bytes(files.HTML)
    assert "its type is read from its content" in _add(livinglab, page, code=2).output
    big = tmp_path / "big.pdf"
    big.write_bytes(files.PDF + b"\x00" * 2048)
    refused = _add(livinglab, big, code=2, env={"LIVINGLAB_EVIDENCE_MAX_BYTES": "2048"})
    assert "at most 2048" in refused.output
    with psycopg.connect(world.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM evidence").fetchone() == (0,)
