"""Every panel's query, expanded as Grafana expands it, run as a dashboard's login
(livinglab_readonly) on the real TimescaleDB with a small lab's data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from livinglab_lab.dashboards.build import JSON_DIR, generate, queries
from livinglab_lab.dashboards.expand import Range, expand
from livinglab_lab.dashboards.render import render
from livinglab_platform.ingest.rollup import upsert_rollups
from tests.dashboards.lab_data import make_lab

MODELS = {uid: json.loads(text) for uid, text in generate().items()}
QUERIES = list(queries(MODELS))


def test_the_committed_json_is_what_the_code_generates():
    committed = {p.stem: p.read_text(encoding="utf-8") for p in JSON_DIR.glob("*.json")}
    assert committed == generate(), "run `make dashboards` and commit dashboards/json"


def test_every_panel_reads_the_one_data_source():
    for model in MODELS.values():
        assert model["schemaVersion"] == 41
        assert model["title"].strip()
        for panel in model["panels"]:
            assert panel["datasource"] == {
                "type": "grafana-postgresql-datasource",
                "uid": "livinglab-timescaledb",
            }, panel["title"]


@pytest.fixture
def lab(dsn):
    with psycopg.connect(dsn) as conn:
        return make_lab(conn)


def _run(readonly_dsn, sql):
    with psycopg.connect(readonly_dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
        assert cur.description is not None
        return [c.name for c in cur.description], cur.fetchall()


@pytest.mark.parametrize(
    "span", [timedelta(hours=1), timedelta(days=1), timedelta(days=365)]
)
def test_every_query_succeeds_returns_rows_and_names_time(lab, readonly_dsn, span):
    window = Range.last(span, now=lab["now"] + timedelta(seconds=30))
    for query in QUERIES:
        sql = expand(query.sql, variables=lab["variables"], time_range=window)
        columns, rows = _run(readonly_dsn, sql)
        assert rows, (query.uid, query.title, span)
        if not query.table:
            assert columns[0] == "time", (query.uid, query.title)
            times = [row[0] for row in rows]
            assert times == sorted(times), (query.uid, query.title)


def test_every_variable_is_honoured(lab, readonly_dsn):
    window = Range.last(timedelta(hours=6), now=lab["now"] + timedelta(seconds=30))
    # Other values of each variable; a per-quantity panel shows one of the two sensors only.
    others: dict[str, list[str | list[str]]] = {
        "site": ["bezigrad"],
        "device": ["d3"],
        "sensor": [["pm10"], ["noise-level"]],
        "trial": ["0"],
        "year": ["1990"],
    }
    for query in QUERIES:
        used = set(re.findall(r"\$\{?(site|device|sensor|trial|year)\b", query.sql))
        for name in used:
            result = _run(
                readonly_dsn,
                expand(query.sql, variables=lab["variables"], time_range=window),
            )
            changed = [
                _run(
                    readonly_dsn,
                    expand(
                        query.sql,
                        variables={**lab["variables"], name: other},
                        time_range=window,
                    ),
                )
                for other in others[name]
            ]
            assert any(c != result for c in changed), (query.title, name)


def test_the_trial_reads_only_inside_its_assignment(lab, readonly_dsn):
    query = next(q for q in QUERIES if q.title == "Meritve poskusa")
    window = Range.last(timedelta(hours=6), now=lab["now"] + timedelta(seconds=30))
    sql = expand(
        query.sql, variables=lab["variables"], time_range=window, interval_ms=60_000
    )
    _, rows = _run(readonly_dsn, sql)
    first = min(row[0] for row in rows)
    # d1 works for the trial from an hour after its first reading: nothing before.
    assert first == lab["now"] - timedelta(hours=2)
    assert {row[1].split()[0] for row in rows} == {"d1"}


def _hypertable_ids(dsn):
    with psycopg.connect(dsn) as conn:
        return dict(
            conn.execute(
                "SELECT table_name, id FROM _timescaledb_catalog.hypertable"
            ).fetchall()
        )


def test_a_year_never_scans_readings_or_minutes(lab, dsn, readonly_dsn):
    ids = _hypertable_ids(dsn)
    year = Range.last(timedelta(days=365), now=lab["now"])
    day = Range.last(timedelta(days=1), now=lab["now"])
    for query in QUERIES:
        if "viewer_cells_1m" not in query.sql and "reading_counts_1m" not in query.sql:
            continue
        for window, forbidden in (
            (year, ("readings", "readings_1m")),
            (day, ("readings", "readings_1h")),
        ):
            sql = expand(query.sql, variables=lab["variables"], time_range=window)
            _, rows = _run(readonly_dsn, "EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in rows)
            for table in forbidden:
                assert f"_hyper_{ids[table]}_" not in plan, (query.title, window, plan)
        assert (
            f"_hyper_{ids['readings_1m']}_" in plan
            or "viewer_cells_1m" not in query.sql
        )


def test_the_viewer_hours_are_the_sum_of_whole_cells(dsn):
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    with psycopg.connect(dsn) as conn:
        make_lab(conn, now=start + timedelta(hours=3))
        # A sparse minute (2 readings, below 5), then more readings into a counted minute, merged
        # as the ingest merges them (migration 011's merge_minutes keeps the hours).
        sparse_us = int((start - timedelta(hours=2)).timestamp() * 1e6)
        counted_us = int((start + timedelta(minutes=5)).timestamp() * 1e6)
        upsert_rollups(
            conn,
            time_us=np.array(
                [sparse_us, sparse_us + 10**6]
                + [counted_us + i * 10**6 for i in range(6)]
            ),
            sensor_id=np.full(8, 1, dtype=np.int32),
            value=np.array([400.0, 600.0] + [10.0] * 6),
        )
        rebuilt = conn.execute(
            "SELECT bucket, sensor_id, count, sum, min, max FROM viewer_cells_1h ORDER BY 1, 2"
        ).fetchall()
        conn.execute("SELECT viewer_cells_rebuild('-infinity', 'infinity')")
        assert (
            rebuilt
            == conn.execute(
                "SELECT bucket, sensor_id, count, sum, min, max FROM viewer_cells_1h ORDER BY 1, 2"
            ).fetchall()
        )
        # The hour of the sparse minute alone holds no cell: nothing of it is readable.
        sparse_hour = conn.execute(
            "SELECT count FROM viewer_cells_1h WHERE sensor_id = 1 AND bucket = %s",
            (start - timedelta(hours=2),),
        ).fetchone()
        assert sparse_hour is None


ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "dashboards"


def test_a_rendering_of_every_dashboard(lab, readonly_dsn):
    window = Range.last(timedelta(hours=6), now=lab["now"] + timedelta(seconds=30))
    written = render(
        readonly_dsn, ARTIFACTS, variables=lab["variables"], time_range=window
    )
    assert {p.stem for p in written} == set(MODELS)
    for path in written:
        page = path.read_text(encoding="utf-8")
        assert page.count("<section") == len(MODELS[path.stem]["panels"])
        assert "no data" not in page, path
