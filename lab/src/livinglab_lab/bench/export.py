"""`livinglab bench export`: raw exports against PostgreSQL's own `COPY (SELECT ...) TO STDOUT`.

On the readings of `readlab` (one sensor every `step_s` seconds, loaded with the ingest's own COPY
and rollup upsert), for 30 days and for the whole year of one sensor, in one run:

- copy: `COPY (SELECT time, device_id, sensor, quantity, unit, value ... ORDER BY time) TO STDOUT
  (FORMAT csv)` of the same rows, read to the end by psycopg: the reference;
- api: `/api/v1/export` as CSV and as Parquet, through the whole ASGI stack in this process
  (`TestClient`, no socket), read piece by piece as a client reads a streamed body;
- cli: `livinglab export ... -o -` as CSV and as Parquet, a process of its own, its standard
  output read and dropped by this one.

Each export's rows are counted against the reference's. Reported: ratio_csv_vs_copy and
ratio_parquet_vs_copy (the reference's seconds over the export's, for the longest range through
the API; the CLI's ratios beside them, start-up included, and cli_startup_s), first_byte_ms
(until the first 100 kB of the body), and peak_rss_mb (the CLI process's peak resident memory,
the same for 30 and 365 days when memory is flat; the API's growth in this process too).
Targets: CSV >= 0.7, Parquet >= 0.5, first byte < 300 ms.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from psycopg import sql
from rich.console import Console
from rich.table import Table

from livinglab_lab.bench.harness import progress_bar
from livinglab_lab.bench.readlab import ReadLab, load_read_lab

__all__ = ["run_export_benchmark"]

FIRST_BYTES = 100_000
TARGETS = {"csv": 0.7, "parquet": 0.5}
TARGET_FIRST_BYTE_MS = 300.0
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1e6


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE_MB


def _range(lab: ReadLab, days: int) -> dict[str, str]:
    start = lab.end - timedelta(days=days)
    return {
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": lab.end.isoformat().replace("+00:00", "Z"),
    }


def _copy(lab: ReadLab, days: int) -> tuple[float, int]:
    """The reference: PostgreSQL's CSV of the same rows; (seconds, rows)."""
    statement = sql.SQL(
        "COPY (SELECT r.time, s.device_id, s.key AS sensor, s.quantity, s.unit, r.value"
        " FROM readings r JOIN sensors s ON s.id = r.sensor_id"
        " WHERE r.sensor_id = {} AND r.time >= {} AND r.time < {}"
        " ORDER BY r.time) TO STDOUT (FORMAT csv)"
    ).format(
        sql.Literal(lab.sensor_ids[0]),
        sql.Literal(lab.end - timedelta(days=days)),
        sql.Literal(lab.end),
    )
    rows = 0
    with psycopg.connect(lab.dsn) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for _ in copy:
                rows += 1
        return time.perf_counter() - started, rows


def _api(client: TestClient, lab: ReadLab, days: int, fmt: str) -> dict[str, Any]:
    params: dict[str, str | int] = {
        "sensor": lab.sensor_ids[0],
        "interval": "raw",
        "format": fmt,
        **_range(lab, days),
    }
    headers = {"Authorization": f"Bearer {lab.tokens['operator']}"}
    base = peak = _rss_mb()
    body = io.BytesIO() if fmt == "parquet" else None
    size = newlines = 0
    first_ms = None
    started = time.perf_counter()
    with client.stream("GET", "/api/v1/export", headers=headers, params=params) as r:
        r.raise_for_status()
        for piece in r.iter_raw():
            size += len(piece)
            if first_ms is None and size >= FIRST_BYTES:
                first_ms = (time.perf_counter() - started) * 1000
            if body is not None:
                body.write(piece)
            else:
                newlines += piece.count(b"\n")
            peak = max(peak, _rss_mb())
    seconds = time.perf_counter() - started
    rows = pq.ParquetFile(body).metadata.num_rows if body is not None else newlines - 1
    return {
        "seconds": seconds,
        "rows": rows,
        "first_byte_ms": round(first_ms or seconds * 1000, 1),
        "rss_growth_mb": round(peak - base, 1),
        "bytes": size,
    }


def _livinglab() -> str:
    # The command of this environment, beside its Python, even when it is not on PATH.
    beside = Path(sys.executable).parent / "livinglab"
    return str(beside) if beside.exists() else shutil.which("livinglab") or "livinglab"


def _startup() -> float:
    """Seconds for `livinglab export --help`: the CLI's start-up, part of every CLI run."""
    started = time.perf_counter()
    subprocess.run(
        [_livinglab(), "export", "--help"], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def _cli(lab: ReadLab, days: int, fmt: str) -> dict[str, Any]:
    window = _range(lab, days)
    command = [
        _livinglab(),
        "export",
        "--sensor",
        str(lab.sensor_ids[0]),
        "--start",
        window["start"],
        "--end",
        window["end"],
        "--interval",
        "raw",
        "--format",
        fmt,
        # Standard output, read and dropped here: no disk in the measurement. Never a device
        # path such as /dev/null: the CLI writes a partial file beside its output and renames
        # it over the output when done, which would replace the device with a file.
        "--output",
        "-",
    ]
    env = {**os.environ, "LIVINGLAB_DATABASE_URL": lab.dsn}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err)
        assert process.stdout is not None
        with process.stdout:
            while process.stdout.read(1 << 20):
                pass
        # wait4, not wait: its rusage is this child's own peak memory.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        summary = err.read().decode()
        if process.returncode != 0:
            raise RuntimeError(f"livinglab export failed: {summary[-500:]}")
    # On stderr, last: "3,153,600 rows (raw from readings) written to stdout as csv in 9.1 s"
    words = summary.rsplit(" rows (", 1)[0].split()
    rows = int(words[-1].replace(",", "")) if words else -1
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def run_export_benchmark(
    *, lab_dir: Path, days: int, step_s: float, console: Console
) -> dict[str, Any]:
    """Load the readings, time every export against COPY, print the table and the JSON line."""
    spans = sorted({min(30, days), days})
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from livinglab_platform.api import create_app
    from livinglab_platform.core.settings import ApiSettings, BrokerSettings

    runs: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    with contextlib.ExitStack() as stack:
        console.print(
            f"loading {days} days of one sensor every {step_s:g} s in {lab_dir}"
        )
        with progress_bar(Console(stderr=True)) as progress:
            task = progress.add_task("days", total=days)
            lab = load_read_lab(
                lab_dir,
                stack,
                days=days,
                n_sensors=1,
                step_s=step_s,
                on_day=lambda n: progress.advance(task, n),
            )
        app = create_app(
            ApiSettings(database_url=lab.dsn),
            BrokerSettings(mqtt_host="127.0.0.1", mqtt_port=1, mqtt_admin_password="x"),
        )
        with TestClient(app) as client:
            # Not timed: the first request opens the pool and imports what exports need.
            for fmt in ("csv", "parquet"):
                _api(client, lab, 1, fmt)
            startup_s = _startup()
            for span in spans:
                copy_s, copy_rows = _copy(lab, span)
                runs[f"{span}d/copy"] = {"seconds": copy_s, "rows": copy_rows}
                for fmt in ("csv", "parquet"):
                    for path in ("api", "cli"):
                        run = (
                            _api(client, lab, span, fmt)
                            if path == "api"
                            else _cli(lab, span, fmt)
                        )
                        run["ratio_vs_copy"] = round(copy_s / run["seconds"], 3)
                        runs[f"{span}d/{path}/{fmt}"] = run
                        if run["rows"] != copy_rows:
                            errors.append(
                                f"{span}d {path} {fmt}: {run['rows']} rows, COPY {copy_rows}"
                            )
    longest = f"{spans[-1]}d"
    api_runs = [r for k, r in runs.items() if "/api/" in k]
    cli_runs = [r for k, r in runs.items() if "/cli/" in k]
    result: dict[str, Any] = {
        "benchmark": "export",
        "days": days,
        "step_s": step_s,
        "readings": lab.readings,
        "transport": "in-process TestClient; CLI as a subprocess",
        "ratio_csv_vs_copy": runs[f"{longest}/api/csv"]["ratio_vs_copy"],
        "ratio_parquet_vs_copy": runs[f"{longest}/api/parquet"]["ratio_vs_copy"],
        "ratio_csv_vs_copy_cli": runs[f"{longest}/cli/csv"]["ratio_vs_copy"],
        "ratio_parquet_vs_copy_cli": runs[f"{longest}/cli/parquet"]["ratio_vs_copy"],
        "cli_startup_s": round(startup_s, 3),
        "first_byte_ms": max(r["first_byte_ms"] for r in api_runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in cli_runs),
        "api_rss_growth_mb": max(r["rss_growth_mb"] for r in api_runs),
        "rows_equal": not errors,
        "errors": errors,
        "runs": {
            k: {n: round(v, 3) if isinstance(v, float) else v for n, v in r.items()}
            for k, r in runs.items()
        },
    }
    _print_table(console, runs)
    for error in errors:
        console.print(f"[red]{error}[/]")
    print(json.dumps(result), flush=True)  # noqa: T201
    sys.stdout.flush()
    return result


def _print_table(console: Console, runs: dict[str, dict[str, Any]]) -> None:
    table = Table(title="raw export of one sensor against COPY ... TO STDOUT")
    for name in (
        "run",
        "rows",
        "seconds",
        "rows/s",
        "vs COPY",
        "first 100 kB ms",
        "memory MB",
    ):
        table.add_column(name, justify="left" if name == "run" else "right")
    for key, run in runs.items():
        memory = run.get("peak_rss_mb", run.get("rss_growth_mb"))
        table.add_row(
            key,
            f"{run['rows']:,}",
            f"{run['seconds']:.2f}",
            f"{run['rows'] / run['seconds']:,.0f}",
            f"{run.get('ratio_vs_copy', 1.0):.2f}",
            f"{run['first_byte_ms']:.0f}" if "first_byte_ms" in run else "",
            "" if memory is None else f"{memory:.0f}",
        )
    console.print(table)
