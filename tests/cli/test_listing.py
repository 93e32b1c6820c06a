"""Every listing prints through one helper: a table for people (whole values when stdout is no
terminal), or `--format json|csv` for scripts, with times in ISO 8601 and their offset."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime

import psycopg
import pytest

from tests.api.world import make_trial, seed

LONG_NAME = (
    "Javno podjetje Energetika Ljubljana, d.o.o., enota za daljinsko ogrevanje in plin"
)


@pytest.fixture
def world(dsn):
    return seed(dsn)


def test_json_and_csv_of_trials_and_tokens(livinglab, dsn, world):
    with psycopg.connect(dsn) as conn:
        trial = make_trial(conn, "startup-a", state="submitted")
    listed = json.loads(livinglab("trials", "list", "--format", "json").stdout)
    (row,) = [t for t in listed if t["id"] == trial]
    assert row["state"] == "submitted"
    assert (row["starts_on"], row["ends_on"]) == ("2026-05-01", "2026-09-30")
    assert "[" not in json.dumps(row["state"])  # no rich markup in data

    livinglab(
        "tokens", "create", "operator@example.si", "--name", "ci", "--expires", "2099-01-01"
    )  # fmt: skip
    rows = list(
        csv.DictReader(
            io.StringIO(
                livinglab(
                    "tokens", "list", "operator@example.si", "--format", "csv"
                ).stdout
            )
        )
    )
    ci = next(r for r in rows if r["name"] == "ci")
    # ISO 8601 with the offset; the last day is included (Ljubljana's midnight after it).
    assert datetime.fromisoformat(ci["expires_at"]).isoformat() == (
        "2099-01-01T23:00:00+00:00"
    )
    assert ci["state"] == "valid"
    table = livinglab("tokens", "list", "operator@example.si").stdout
    assert (
        "2 January 2099 00:00 (CET)" in table
    )  # people read Ljubljana's clock, zone named


def test_a_pipe_gets_whole_values_not_a_table_cut_at_80_columns(livinglab, api_dsn):
    livinglab(
        "orgs", "add", "energetika", "--name", LONG_NAME, "--kind", "public_company"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    piped = subprocess.run(
        [sys.executable, "-m", "livinglab_platform", "orgs", "list"],
        env={**env, "LIVINGLAB_DATABASE_URL": api_dsn},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = [line for line in piped.splitlines() if "energetika" in line]
    assert LONG_NAME in line
    assert "…" not in piped
