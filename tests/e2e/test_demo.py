"""`livinglab demo` runs the whole lab: it stores what its agents sent, seeds a registry with
trials in every state and a governance record 2022-2026, and serves the API, where the running
trial's data and the record's verdicts show up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from livinglab_lab import seed
from tests.e2e.processes import alive, users_of

START_TIMEOUT_S = 120


@contextlib.contextmanager
def _demo(cwd: Path, *, duration_s: float) -> Iterator[subprocess.Popen[str]]:
    """The demo in `cwd` with a relative lab directory, as `make demo` runs it."""
    # A file, not a pipe: the demo's output can never block on a full pipe.
    with (cwd / "demo.out").open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "livinglab_platform", "demo",
                "--duration", str(duration_s), "--lab-dir", "lab",
            ],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        if (
            process.poll() is None
        ):  # a failed check: Ctrl-C stops the lab's services in order
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)


def _summary(cwd: Path, process: subprocess.Popen[str]) -> dict[str, int]:
    assert process.wait(timeout=240) == 0, (cwd / "demo.out").read_text()[-5000:]
    return json.loads((cwd / "demo.out").read_text().strip().splitlines()[-1])


def _lab_env(
    cwd: Path, *, newer_than: int, process: subprocess.Popen[str]
) -> dict[str, str]:
    """`lab/tokens.env` once this run has written it (the API answers from then on)."""
    path = cwd / "lab" / "tokens.env"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (path.exists() and path.stat().st_mtime_ns > newer_than):
        assert process.poll() is None, (cwd / "demo.out").read_text()[-5000:]
        assert time.monotonic() < deadline, "the demo wrote no tokens.env"
        time.sleep(0.2)
    lines = path.read_text().splitlines()
    return dict(
        line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")
    )


def _get(env: dict[str, str], who: str, path: str):
    request = urllib.request.Request(
        env["LAB_URL"] + path,
        headers={"Authorization": f"Bearer {env[who.upper() + '_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _check_roles(lab: Path) -> None:
    """Each running service is connected as its own login, none as the superuser; the lab's
    passwords are in files only their owner reads."""
    for name in ("postgres.password", "secrets.json", "env"):
        assert stat.S_IMODE((lab / name).stat().st_mode) == 0o600, name
    operator = psycopg.conninfo.conninfo_to_dict(
        dict(line.split("=", 1) for line in (lab / "env").read_text().splitlines())[
            "LIVINGLAB_DATABASE_URL"
        ]
    )
    assert operator["user"] == "api"
    superuser = psycopg.conninfo.make_conninfo(
        "",
        **{k: v for k, v in operator.items() if k in ("host", "port", "dbname")},
        user="postgres",
        password=(lab / "postgres.password").read_text().strip(),
    )
    with psycopg.connect(superuser) as conn:
        sessions = conn.execute(
            "SELECT application_name, usename, count(*) FROM pg_stat_activity"
            " WHERE datname = 'livinglab' AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    # The demo names each service's connections (PGAPPNAME); ingest names its own.
    users = {"ingest" if "ingest" in name else name: user for name, user, _ in sessions}
    assert users.get("api") == "api", sessions
    assert users.get("ingest") == "ingest", sessions
    assert {user for _, user, _ in sessions} <= {"api", "ingest", "dashboard"}, sessions


def _check_first_run(
    tmp_path: Path, env: dict[str, str], process: subprocess.Popen[str]
) -> dict[str, int]:
    """The seeded registry as the API shows it, while the demo runs; then the run's summary."""
    trials = _get(env, "operator", "/api/v1/trials")
    assert sorted(t["state"] for t in trials) == sorted(
        ["running", "submitted", "approved", "draft", "completed", "rejected"]
    )
    assert len(_get(env, "operator", "/api/v1/organisations")) == len(
        seed.ORGANISATIONS
    )
    assert (
        len(_get(env, "viewer", "/api/v1/trials")) == 5
    )  # drafts are their owners' business
    running = next(t for t in trials if t["state"] == "running")
    assert {d["device_id"] for d in running["devices"]} == {
        "tp-air-01",
        "fe-pm-01",
        "center-noise-01",
    }
    # The running trial's data reaches the researcher who owns it, through its assignments.
    deadline = time.monotonic() + 15
    while True:
        series = _get(
            env, "researcher", f"/api/v1/data?trial={running['id']}&interval=raw"
        )["series"]
        if {s["device_id"] for s in series} == {
            "tp-air-01",
            "fe-pm-01",
            "center-noise-01",
        }:
            break
        assert time.monotonic() < deadline, series
        time.sleep(1)
    # The governance record 2022-2026, its verdicts differing by year, read by the city's viewer.
    verdicts = {
        year: _get(env, "viewer", f"/api/v1/governance/indicators?year={year}")[
            "verdict"
        ]["key"]
        for year in (2022, 2023, 2025)
    }
    assert verdicts == {
        2022: "not_achieved",
        2023: "partially_achieved",
        2025: "partially_achieved",
    }
    _check_roles(tmp_path / "lab")
    summary = _summary(tmp_path, process)
    printed = (tmp_path / "demo.out").read_text()
    assert "livinglab governance indicators --year 2025" in printed
    assert "livinglab governance milestone --as-of 2025-12-31" in printed
    assert "livinglab report --year 2025 -o porocilo-2025.html" in printed
    return summary


@pytest.mark.slow
def test_demo_run_stores_what_its_agents_sent(tmp_path):
    with _demo(tmp_path, duration_s=15) as process:
        env = _lab_env(tmp_path, newer_than=0, process=process)
        summary = _check_first_run(tmp_path, env, process)
    # Three agents sampling six keys at 10 Hz send about 60 readings a second.
    assert summary["sent"] > 500
    assert summary["stored"] == summary["sent"]
    assert summary["lost"] == 0
    assert summary["duplicated"] == 0
    assert summary["quarantined"] == 0

    # A second run continues on the same lab: registry, tokens, outboxes and data are kept.
    written = (tmp_path / "lab" / "tokens.env").stat().st_mtime_ns
    with _demo(tmp_path, duration_s=8) as process:
        again = _lab_env(tmp_path, newer_than=written, process=process)
        assert {k: v for k, v in again.items() if k != "LAB_URL"} == {
            k: v for k, v in env.items() if k != "LAB_URL"
        }
        assert len(_get(again, "operator", "/api/v1/trials")) == 6
        assert len(_get(again, "operator", "/api/v1/people")) == len(seed.PEOPLE)
        second = _summary(tmp_path, process)
    assert second["sent"] > 0
    assert second["stored"] == second["sent"]
    assert second["lost"] == 0
    assert second["duplicated"] == 0


def _lab_processes(lab: Path, *, demo_pid: int) -> set[int]:
    """The lab's processes: the demo's children (ingest, API, agents, Mosquitto) and whatever
    runs from the lab's folders (the PostgreSQL server, which pg_ctl detaches)."""
    folders = [str(lab)] + [
        str((lab / name).resolve()) for name in ("postgres", "mosquitto")
    ]
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == demo_pid or any(folder in cmdline for folder in folders):
            found.add(int(proc.name))
    return found


def _users_of(folder: Path) -> set[int]:
    """Every process working in `folder` or naming it (or a lab directory linked from it) on its
    command line: the demo's children inherit its working directory, the servers name their data
    directories."""
    lab = folder / "lab"
    return users_of(
        [str(folder)]
        + [str((lab / name).resolve()) for name in ("postgres", "mosquitto")]
    )


def _wait_gone(folder: Path, *, timeout_s: float) -> set[int]:
    """Wait until no process uses `folder`; return those that still do at the timeout."""
    deadline = time.monotonic() + timeout_s
    while (left := _users_of(folder)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory) -> Iterator[Path]:
    """One lab for the stop tests: each run continues it, as a second `make demo` would."""
    home = tmp_path_factory.mktemp("demo-stops")
    yield home
    for pid in _users_of(home):  # a failed check leaves nothing behind either
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _start_and_wait(home: Path, *, stdout) -> subprocess.Popen[str]:
    written = (
        (home / "lab" / "tokens.env").stat().st_mtime_ns
        if (home / "lab" / "tokens.env").exists()
        else 0
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "livinglab_platform", "demo", "--lab-dir", "lab"],
        cwd=home,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _lab_env(home, newer_than=written, process=process)
    time.sleep(3)
    return process


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"]
)
def test_a_stop_signal_stops_the_demo_in_order_and_leaves_nothing_running(
    lab_home, signum
):
    # As a service manager (SIGTERM) or a closed terminal (SIGHUP) stops it: the demo alone.
    with (lab_home / "demo.out").open("w") as log:
        process = _start_and_wait(lab_home, stdout=log)
    lab = _lab_processes(lab_home / "lab", demo_pid=process.pid)
    # Ingest, API, three agents and Mosquitto, plus PostgreSQL's own processes.
    assert len(lab) >= 7, lab
    process.send_signal(signum)
    summary = _summary(lab_home, process)
    assert "stopping: API and agents" in (lab_home / "demo.out").read_text()
    assert summary["lost"] == 0
    assert summary["stored"] == summary["sent"] > 0
    assert alive(lab) == set()
    assert _users_of(lab_home) == set()
    saved = json.loads((lab_home / "lab" / "logs" / "demo-summary.json").read_text())
    assert saved == summary


@pytest.mark.slow
@pytest.mark.parametrize("lines", [1, 5])
def test_a_closed_stdout_stops_the_demo_in_order(lab_home, lines):
    # `| head -N`: the reader goes away after N lines; failed before: exit 1, no summary,
    # PostgreSQL and Mosquitto left running.
    (lab_home / "lab" / "logs" / "demo-summary.json").unlink(missing_ok=True)
    command = (
        f"{sys.executable} -m livinglab_platform demo --duration 20 --lab-dir lab"
        f" 2>demo.err | head -{lines}"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=lab_home,
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = (lab_home / "demo.err").read_text()
    assert result.returncode == 0, errors[-5000:]
    assert len(result.stdout.splitlines()) == lines
    assert _wait_gone(lab_home, timeout_s=5) == set()
    # Where promised: the file always, and stderr, as stdout is gone.
    saved = json.loads((lab_home / "lab" / "logs" / "demo-summary.json").read_text())
    assert saved["lost"] == 0
    assert saved["duplicated"] == 0
    assert json.loads(errors.strip().splitlines()[-1]) == saved


@pytest.mark.slow
def test_a_killed_demo_leaves_no_orphans(lab_home):
    # SIGKILL cannot be caught: the watchdog stops the lab's services when the demo's pipe closes.
    with (lab_home / "demo.out").open("w") as log:
        process = _start_and_wait(lab_home, stdout=log)
    lab = _lab_processes(lab_home / "lab", demo_pid=process.pid)
    assert len(lab) >= 7, lab
    process.kill()
    process.wait()
    deadline = time.monotonic() + 60
    while alive(lab) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alive(lab) == set()
    assert _wait_gone(lab_home, timeout_s=5) == set()
