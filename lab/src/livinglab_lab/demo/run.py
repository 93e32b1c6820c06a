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
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psycopg
from rich.console import Console

from livinglab_lab import record, seed
from livinglab_lab.demo.pilots import PILOTS, write_agent_config
from livinglab_lab.demo.status import (
    DemoSummary,
    outbox_totals,
    print_governance,
    print_summary,
    stored_counts,
    summarise,
    wait_for_ingest,
    watch,
)
from livinglab_lab.demo.tokens import print_people, read_tokens, write_tokens
from livinglab_lab.ports import free_port, wait_for_port
from livinglab_lab.services import Mosquitto, Postgres
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


def _start_services(directory: Path, console: Console) -> _Lab:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "logs").mkdir(exist_ok=True)
    console.print(f"[bold]livinglab demo[/] in {directory.resolve()}")
    postgres = Postgres.create(directory / "postgres")
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
    console.print(
        f"  Mosquitto on 127.0.0.1:{mosquitto.port} (dynamic security, persistence on)"
    )
    with _admin(mosquitto) as dynsec:
        bootstrap(
            dynsec,
            ingest_password=lab_secrets["ingest"],
            platform_password=lab_secrets["platform"],
        )
    lab = _Lab(directory, postgres, mosquitto, dsn, lab_secrets, {})
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
    log.close()


def _stop(*processes: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM all at once (each drains in parallel), then wait; SIGKILL what outlives the timeout."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_demo(
    *, lab_dir: Path, duration_s: float | None, console: Console
) -> DemoSummary | None:
    """Run the lab until Ctrl-C (or for `duration_s`) and stop everything cleanly; return the summary."""
    # A service manager stops the demo with SIGTERM to its process alone: the same orderly stop
    # as Ctrl-C, instead of Python's default of dying on the spot and leaving every service up.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(lab_dir, duration_s=duration_s, console=console)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    # Once: a second SIGTERM while the lab stops must not cut the stop short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _run(
    lab_dir: Path, *, duration_s: float | None, console: Console
) -> DemoSummary | None:
    # Absolute: the agents' configs name files in it, and agents resolve relative paths
    # against their config file's folder.
    lab = _start_services(lab_dir.absolute(), console)
    summary = None
    try:
        tokens = _seed(lab, console)
        acked_before, _ = outbox_totals(_outboxes(lab))
        # From here on the demo only watches, as a dashboard would: read-only.
        dashboard = lab.login_dsn("dashboard")
        with db.connect(dashboard) as conn:
            stored_before, quarantined_before = stored_counts(conn)
        _spawn(
            lab,
            "ingest",
            ["-m", "livinglab_platform.ingest"],
            extra_env={"LIVINGLAB_DATABASE_URL": lab.login_dsn("ingest")},
        )
        for pilot in PILOTS:
            _spawn(
                lab,
                pilot.device_id,
                [
                    "-m",
                    "livinglab_edge_agent",
                    "run",
                    "--config",
                    str(pilot.directory(lab.directory) / "agent.toml"),
                ],
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
        with contextlib.suppress(KeyboardInterrupt):
            watch(
                dashboard,
                processes=lab.processes,
                logs=lab.directory / "logs",
                duration_s=duration_s,
                console=console,
            )
        console.print(
            "\nstopping: API and agents (they drain their outboxes), then ingest, broker and database"
        )
        _stop(
            lab.processes.pop("api"),
            *(lab.processes.pop(pilot.device_id) for pilot in PILOTS),
        )
        acked_after, _ = outbox_totals(_outboxes(lab))
        wait_for_ingest(dashboard, expected=stored_before + acked_after - acked_before)
        _stop(lab.processes.pop("ingest"))
        # The check for readings stored twice reads the raw readings, which a dashboard's
        # login may not (migration 009): it runs as the owner.
        summary = summarise(
            lab.dsn,
            outboxes=_outboxes(lab),
            acked_before=acked_before,
            stored_before=stored_before,
            quarantined_before=quarantined_before,
        )
        print_summary(summary, console, lab_dir=lab.directory)
    finally:
        _stop(*lab.processes.values())
        lab.mosquitto.stop()
        lab.postgres.stop()
    return summary


def _outboxes(lab: _Lab) -> list[Path]:
    """The pilots' outboxes, including those their agents have not created yet."""
    return [pilot.directory(lab.directory) / "outbox.db" for pilot in PILOTS]
