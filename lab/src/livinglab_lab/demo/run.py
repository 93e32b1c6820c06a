"""`livinglab demo`, run: a whole living lab on one machine started, watched and stopped in order.

Its own PostgreSQL with TimescaleDB and its own Mosquitto on free loopback ports, a seeded
registry (seed.py: organisations, people with tokens, sites, trials in every state) and governance
record 2022-2026 (record.py), the ingest
service, the API with the web pages, and three simulated edge agents at pilot sites in Ljubljana.
Everything persists in the lab directory, so a second run continues where the first stopped.

The demo sets the lab up as the database's superuser (migrations, the seed); then each service
logs in as its own user in its own role (migration 006): `api` (also `.lab/env`, for the
operator's commands), `ingest`, and `dashboard`, read-only, for the live status table. Their
generated passwords are in `.lab/secrets.json` (mode 0600).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console

from livinglab_lab import record, seed
from livinglab_lab.demo.pilots import PILOTS, write_agent_config
from livinglab_lab.demo.status import (
    Baseline,
    DemoSummary,
    first_seqs,
    outbox_totals,
    print_governance,
    print_summary,
    stored_counts,
    summarise,
    wait_for_ingest,
    watch,
)
from livinglab_lab.demo.stopping import GuardedStdout, deferred_stop, stop_signals
from livinglab_lab.demo.tokens import print_people, read_tokens, write_tokens
from livinglab_lab.ports import free_port, wait_for_port
from livinglab_lab.services import Mosquitto, Postgres
from livinglab_lab.watchdog import PidRecord, start_watchdog
from livinglab_platform.core import db
from livinglab_platform.core.dynsec import DynSec, bootstrap
from livinglab_platform.core.identities import INGEST_USER
from livinglab_platform.core.roles import ServiceRole, create_login
from livinglab_platform.registry import devices

__all__ = ["run_demo"]


@dataclass
class _Lab:
    directory: Path
    postgres: Postgres
    mosquitto: Mosquitto
    dsn: str
    secrets: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    # Every running service in stop order, for the watchdog should the demo die.
    record: PidRecord

    def login_dsn(self, user: str) -> str:
        """The lab's database as one of `_LOGINS`."""
        return self.postgres.dsn(
            "livinglab", user=user, password=self.secrets[f"db_{user}"]
        )


# The database's login users, each in one role (migration 006).
_LOGINS = {
    "api": ServiceRole.API,
    "ingest": ServiceRole.INGEST,
    "dashboard": ServiceRole.READONLY,
}


def _secrets(directory: Path) -> dict[str, str]:
    """The lab's generated passwords: the broker's ingest and platform clients, the database's
    logins; those an older lab lacks are added."""
    path = directory / "secrets.json"
    values = dict(json.loads(path.read_text())) if path.exists() else {}
    wanted = ["ingest", "platform", *(f"db_{user}" for user in _LOGINS)]
    if all(name in values for name in wanted):
        return values
    for name in wanted:
        values.setdefault(name, secrets.token_urlsafe(18))
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(json.dumps(values))
    return values


def _start_services(directory: Path, console: Console, *, record: PidRecord) -> _Lab:
    console.print(f"[bold]livinglab demo[/] in {directory.resolve()}")
    postgres = Postgres.create(directory / "postgres")
    # By its pid file: a stop signal may interrupt pg_ctl after the server started.
    record.add_pidfile("postgres", postgres.data_dir / "postmaster.pid", stage=3)
    postgres.start()
    console.print(f"  PostgreSQL + TimescaleDB on 127.0.0.1:{postgres.port}")
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        if (
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'livinglab'"
            ).fetchone()
            is None
        ):
            conn.execute("CREATE DATABASE livinglab")
    dsn = postgres.dsn("livinglab")
    applied = db.upgrade(dsn)
    console.print(f"  schema up to date ({len(applied)} migration(s) applied now)")
    lab_secrets = _secrets(directory)
    with db.connect(postgres.dsn()) as conn, db.unit_of_work(conn):
        for user, role in _LOGINS.items():
            create_login(conn, name=user, role=role, password=lab_secrets[f"db_{user}"])
    console.print(f"  database logins {', '.join(_LOGINS)}, each in its own role")
    mosquitto = Mosquitto.create(directory / "mosquitto")
    mosquitto.start()
    assert mosquitto.pid is not None
    record.add("mosquitto", mosquitto.pid, stage=2)
    console.print(
        f"  Mosquitto on 127.0.0.1:{mosquitto.port} (dynamic security, persistence on)"
    )
    with _admin(mosquitto) as dynsec:
        bootstrap(
            dynsec,
            ingest_password=lab_secrets["ingest"],
            platform_password=lab_secrets["platform"],
        )
    lab = _Lab(directory, postgres, mosquitto, dsn, lab_secrets, {}, record)
    _write_env(lab)
    return lab


def _admin(mosquitto: Mosquitto) -> DynSec:
    return DynSec(
        host=mosquitto.host,
        port=mosquitto.port,
        user=mosquitto.admin_user,
        password=mosquitto.admin_password,
    )


def _write_env(lab: _Lab) -> None:
    """`.lab/env` lets `livinglab ...` commands in another terminal talk to this lab."""
    env = _service_env(lab) | {
        # The operator's commands do what the API does, with its rights.
        "LIVINGLAB_DATABASE_URL": lab.login_dsn("api"),
        "LIVINGLAB_MQTT_ADMIN_USER": lab.mosquitto.admin_user,
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": lab.mosquitto.admin_password,
        # `livinglab devices config` publishes as the platform's client.
        "LIVINGLAB_MQTT_PLATFORM_PASSWORD": lab.secrets["platform"],
    }
    path = lab.directory / "env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)


def _service_env(lab: _Lab) -> dict[str, str]:
    return {
        "LIVINGLAB_MQTT_HOST": lab.mosquitto.host,
        "LIVINGLAB_MQTT_PORT": str(lab.mosquitto.port),
        "LIVINGLAB_MQTT_USER": INGEST_USER,
        "LIVINGLAB_MQTT_PASSWORD": lab.secrets["ingest"],
    }


def _register_pilots(lab: _Lab, console: Console) -> None:
    """Register the pilots' devices that are missing, owned by their organisations (seeded first)."""
    with db.connect(lab.dsn) as conn, _admin(lab.mosquitto) as dynsec:
        for pilot in PILOTS:
            password_file = pilot.directory(lab.directory) / "password"
            if (
                conn.execute(
                    "SELECT 1 FROM devices WHERE id = %s", (pilot.device_id,)
                ).fetchone()
                is None
            ):
                credentials = devices.register_device(
                    conn,
                    dynsec,
                    device_id=pilot.device_id,
                    site_id=pilot.site_id,
                    sensors=[devices.SensorDefinition(*s) for s in pilot.sensors],
                    description=f"simulated {pilot.kind} sensor",
                    organisation_id=pilot.organisation_id,
                    principal=seed.SEEDER,
                )
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.write_text(credentials.password + "\n")
                password_file.chmod(0o600)
                console.print(
                    f"  registered {pilot.device_id} at {pilot.site_id} for {pilot.organisation_id}"
                )
            conn.commit()
            write_agent_config(
                pilot,
                lab_dir=lab.directory,
                host=lab.mosquitto.host,
                port=lab.mosquitto.port,
            )


def _seed(lab: _Lab, console: Console) -> dict[str, str]:
    """The registry, the pilots' devices and the trials; returns the demo people's tokens."""
    with db.connect(lab.dsn) as conn:
        tokens = seed.seed_registry(conn, tokens=read_tokens(lab.directory))
    _register_pilots(lab, console)
    with db.connect(lab.dsn) as conn:
        added = seed.seed_trials(conn, devices=[p.device_id for p in PILOTS])
        recorded = record.seed_record(conn, operator=seed.principals(conn)["operator"])
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM people),"
            " (SELECT count(*) FROM trials), (SELECT count(*) FROM governance_forms),"
            " (SELECT count(*) FROM council_meetings), (SELECT count(*) FROM applications)"
        ).fetchone()
    assert counts is not None
    console.print(
        f"  registry: {counts[0]} organisations, {counts[1]} people, {counts[2]} trials"
        f" ({added} added now)"
    )
    console.print(
        f"  governance record 2022-2026: {counts[3]} forms, {counts[4]} council meetings,"
        f" {counts[5]} applications ({recorded} records added now)"
    )
    return tokens


def _start_api(lab: _Lab) -> str:
    """The API and web pages on a free loopback port; returns their address."""
    port = free_port()
    admin = {
        # Device registration and credential rotation through the API need the broker's admin;
        # a device's desired configuration is published as the platform's client.
        "LIVINGLAB_MQTT_ADMIN_USER": lab.mosquitto.admin_user,
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": lab.mosquitto.admin_password,
        "LIVINGLAB_MQTT_PLATFORM_PASSWORD": lab.secrets["platform"],
    }
    _spawn(
        lab,
        "api",
        ["-m", "livinglab_platform", "api", "--host", "127.0.0.1", "--port", str(port)],
        extra_env=admin | {"LIVINGLAB_DATABASE_URL": lab.login_dsn("api")},
    )
    wait_for_port(port, process=lab.processes["api"])
    return f"http://127.0.0.1:{port}"


def _spawn(
    lab: _Lab,
    name: str,
    args: list[str],
    *,
    extra_env: dict[str, str] | None = None,
    stage: int = 0,
) -> None:
    log = (lab.directory / "logs" / f"{name}.log").open("ab")
    # Only the services given a LIVINGLAB_DATABASE_URL reach the database; PGAPPNAME names each
    # one's connections in pg_stat_activity.
    own = {"PGAPPNAME": name} | _service_env(lab) | (extra_env or {})
    inherited = {k: v for k, v in os.environ.items() if k != "LIVINGLAB_DATABASE_URL"}
    lab.processes[name] = subprocess.Popen(
        [sys.executable, *args],
        env=inherited | own,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the demo only; it stops the others in order.
    )
    lab.record.add(name, lab.processes[name].pid, stage=stage)
    log.close()


def _stop(lab: _Lab, *names: str, timeout_s: float = 20.0) -> None:
    """SIGTERM these services at once (each drains in parallel), then wait; SIGKILL what outlives
    the timeout. Each leaves the pid record once stopped."""
    processes = {
        name: lab.processes.pop(name) for name in names if name in lab.processes
    }
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for name, process in processes.items():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        lab.record.remove(name)


def run_demo(
    *,
    lab_dir: Path,
    duration_s: float | None,
    console: Console,
    stdout: GuardedStdout | None = None,
) -> DemoSummary | None:
    """Run the lab until Ctrl-C (or for `duration_s`) and stop everything in order; return the summary.

    SIGINT, SIGTERM and SIGHUP, and a stdout whose reader is gone, all stop it in order
    (stopping.py); a watchdog stops the services should the demo itself die (watchdog.py).
    """
    # Before any child starts: from here on every way of stopping runs the ordered stop.
    with stop_signals():
        return _run(lab_dir, duration_s=duration_s, console=console, stdout=stdout)


def _run(
    lab_dir: Path,
    *,
    duration_s: float | None,
    console: Console,
    stdout: GuardedStdout | None,
) -> DemoSummary | None:
    # Absolute: the agents' configs name files in it, and agents resolve relative paths
    # against their config file's folder.
    directory = lab_dir.absolute()
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    record = PidRecord(directory / "pids.json")
    watchdog = start_watchdog(record.path)
    lab: _Lab | None = None
    summary = None
    try:
        try:
            lab = _start_services(directory, console, record=record)
        except KeyboardInterrupt:
            # Stopped while starting: the watchdog stops what started, once the pipe closes.
            summary = DemoSummary(0, 0, 0, 0, 0, 0, 0)
            _report(summary, directory=directory, console=console, stdout=stdout)
            return summary
        baseline = None
        with contextlib.suppress(KeyboardInterrupt):
            baseline = _seed_and_start(lab, console, duration_s=duration_s)
            watch(
                lab.login_dsn("dashboard"),
                processes=lab.processes,
                logs=lab.directory / "logs",
                duration_s=duration_s,
                console=console,
            )
        console.print(
            "\nstopping: API and agents (they drain their outboxes), then ingest, broker and database"
        )
        _stop(lab, "api", *(pilot.device_id for pilot in PILOTS))
        if baseline is not None and "ingest" in lab.processes:
            acked_after, _ = outbox_totals(_outboxes(lab).values())
            wait_for_ingest(
                lab.login_dsn("dashboard"),
                expected=baseline.stored + acked_after - baseline.acked,
            )
            _stop(lab, "ingest")
            # The check for readings stored twice reads the raw readings, which a dashboard's
            # login may not (migration 009): it runs as the owner.
            summary = summarise(lab.dsn, outboxes=_outboxes(lab), baseline=baseline)
        else:  # stopped before the agents started: nothing was sent
            summary = DemoSummary(0, 0, 0, 0, 0, 0, 0)
        _report(summary, directory=directory, console=console, stdout=stdout)
    finally:
        if lab is not None:
            _stop(lab, *lab.processes)
            lab.mosquitto.stop()
            lab.record.remove("mosquitto")
            lab.postgres.stop()
            lab.record.remove("postgres")
        # What a stop signal caught between a child's start and its record, and the rest: the
        # watchdog stops what the record still names, now that its pipe closes.
        _terminate_children(exclude=watchdog.pid)
        assert watchdog.stdin is not None
        watchdog.stdin.close()
        watchdog.wait(timeout=120)
    return summary


def _seed_and_start(
    lab: _Lab, console: Console, *, duration_s: float | None
) -> Baseline:
    """Seed, note the counts before the run, start ingest, agents and API; return the counts."""
    # The seed registers devices in the database and the broker: a stop waits until it is done.
    with deferred_stop():
        tokens = _seed(lab, console)
    acked_before, _ = outbox_totals(_outboxes(lab).values())
    # From here on the demo only watches, as a dashboard would: read-only.
    with db.connect(lab.login_dsn("dashboard")) as conn:
        stored_before, quarantined_before = stored_counts(conn)
    baseline = Baseline(
        acked=acked_before,
        stored=stored_before,
        quarantined=quarantined_before,
        first_seqs=first_seqs(_outboxes(lab)),
    )
    _spawn(
        lab,
        "ingest",
        ["-m", "livinglab_platform.ingest"],
        extra_env={"LIVINGLAB_DATABASE_URL": lab.login_dsn("ingest")},
        stage=1,
    )
    for pilot in PILOTS:
        config = pilot.directory(lab.directory) / "agent.toml"
        _spawn(
            lab,
            pilot.device_id,
            ["-m", "livinglab_edge_agent", "run", "--config", str(config)],
        )
    url = _start_api(lab)
    write_tokens(lab.directory, url=url, tokens=tokens)
    print_people(console, url=url, tokens=tokens)
    console.print(
        f"  web pages at {url}/, API at {url}/api/v1 (docs at {url}/docs);"
        f" tokens in {lab.directory / 'tokens.env'}"
    )
    print_governance(console, lab_dir=lab.directory)
    console.print(
        f"  ingest, API and {len(PILOTS)} agents running; logs in {lab.directory / 'logs'}; "
        + ("Ctrl-C stops" if duration_s is None else f"running {duration_s:.0f} s")
    )
    return baseline


def _report(
    summary: DemoSummary,
    *,
    directory: Path,
    console: Console,
    stdout: GuardedStdout | None,
) -> None:
    """The summary in `logs/demo-summary.json`, and on stdout, or on stderr once stdout is gone."""
    path = directory / "logs" / "demo-summary.json"
    path.write_text(json.dumps(dataclasses.asdict(summary)) + "\n")
    broken = stdout is not None and stdout.broken
    if broken:
        console = Console(stderr=True)
    console.print(f"  summary also in {path}")
    out = sys.stderr if broken else sys.stdout
    print_summary(summary, console, lab_dir=directory, out=out)


def _terminate_children(*, exclude: int) -> None:
    """SIGTERM the demo's own children still running, the watchdog apart."""
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == exclude:
            continue
        try:
            parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me:
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGTERM)


def _outboxes(lab: _Lab) -> dict[str, Path]:
    """The pilots' outboxes by device, including those their agents have not created yet."""
    return {p.device_id: p.directory(lab.directory) / "outbox.db" for p in PILOTS}
