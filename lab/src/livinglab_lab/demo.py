"""`livinglab demo`: a whole living lab on one machine, under `.lab/`.

Its own PostgreSQL with TimescaleDB and its own Mosquitto on free loopback ports, a seeded
registry (seed.py: organisations, people with tokens, sites, trials in every state), the ingest
service, the API with the web pages, and three simulated edge agents at pilot sites in Ljubljana.
Everything persists in the lab directory, so a second run continues where the first stopped.
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
from typing import Any

import psycopg
from rich.console import Console
from rich.live import Live
from rich.table import Table

from livinglab_edge_agent.outbox import Outbox
from livinglab_lab import seed
from livinglab_lab.errors import ServiceError
from livinglab_lab.services import Mosquitto, Postgres, free_port, wait_for_port
from livinglab_platform.core import db
from livinglab_platform.core.db import Connection
from livinglab_platform.core.dynsec import DynSec, bootstrap
from livinglab_platform.registry import devices

__all__ = ["PILOTS", "DemoSummary", "run_demo"]

REFRESH_S = 1.0
HEARTBEAT_S = 5.0
CATCH_UP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Pilot:
    """A simulated pilot: the device installed at a site (seed.py describes the sites) and its owner."""

    site_id: str
    device_id: str
    organisation_id: str
    kind: str
    sensors: tuple[tuple[str, str, str], ...]


PILOTS = (
    Pilot(
        "tp-ljubljana", "tp-air-01", "zrak-io", "air",
        (("air_temperature", "air_temperature", "degC"), ("relative_humidity", "relative_humidity", "%"), ("air_pressure", "air_pressure", "hPa")),
    ),
    Pilot(
        "ul-fe", "fe-pm-01", "ul-fe", "particulate",
        (("pm2_5", "pm2_5", "ug/m3"), ("pm10", "pm10", "ug/m3")),
    ),
    Pilot(
        "presernov-trg", "center-noise-01", "tiha-soseska", "noise",
        (("noise_level", "noise_level", "dBA"),),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    """What the agents handed to the broker during this run and what the database stored."""

    sent: int
    stored: int
    lost: int
    duplicated: int
    quarantined: int
    left_in_outboxes: int


@dataclass
class _Lab:
    directory: Path
    postgres: Postgres
    mosquitto: Mosquitto
    dsn: str
    secrets: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]


def _secrets(directory: Path) -> dict[str, str]:
    path = directory / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {
        "ingest": secrets.token_urlsafe(18),
        "platform": secrets.token_urlsafe(18),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
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
    mosquitto = Mosquitto.create(directory / "mosquitto")
    mosquitto.start()
    console.print(
        f"  Mosquitto on 127.0.0.1:{mosquitto.port} (dynamic security, persistence on)"
    )
    lab_secrets = _secrets(directory)
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
        "LIVINGLAB_MQTT_ADMIN_USER": lab.mosquitto.admin_user,
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": lab.mosquitto.admin_password,
    }
    path = lab.directory / "env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)


def _service_env(lab: _Lab) -> dict[str, str]:
    return {
        "LIVINGLAB_DATABASE_URL": lab.dsn,
        "LIVINGLAB_MQTT_HOST": lab.mosquitto.host,
        "LIVINGLAB_MQTT_PORT": str(lab.mosquitto.port),
        "LIVINGLAB_MQTT_USER": "ingest",
        "LIVINGLAB_MQTT_PASSWORD": lab.secrets["ingest"],
    }


def _agent_dir(lab: _Lab, pilot: Pilot) -> Path:
    return lab.directory / "agents" / pilot.device_id


def _register_pilots(lab: _Lab, console: Console) -> None:
    """Register the pilots' devices that are missing, owned by their organisations (seeded first)."""
    with db.connect(lab.dsn) as conn, _admin(lab.mosquitto) as dynsec:
        for pilot in PILOTS:
            password_file = _agent_dir(lab, pilot) / "password"
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
            _write_agent_config(lab, pilot)


def _seed(lab: _Lab, console: Console) -> dict[str, str]:
    """The registry, the pilots' devices and the trials; returns the demo people's tokens."""
    with db.connect(lab.dsn) as conn:
        tokens = seed.seed_registry(conn, tokens=_read_tokens(lab.directory))
    _register_pilots(lab, console)
    with db.connect(lab.dsn) as conn:
        added = seed.seed_trials(conn, devices=[p.device_id for p in PILOTS])
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM people),"
            " (SELECT count(*) FROM trials)"
        ).fetchone()
    assert counts is not None
    console.print(
        f"  registry: {counts[0]} organisations, {counts[1]} people, {counts[2]} trials"
        f" ({added} added now)"
    )
    return tokens


_TOKEN_SUFFIX = "_TOKEN"


def _read_tokens(directory: Path) -> dict[str, str]:
    """Tokens an earlier run wrote, by person handle."""
    path = directory / "tokens.env"
    if not path.exists():
        return {}
    tokens = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.endswith(_TOKEN_SUFFIX) and value:
            tokens[name.removesuffix(_TOKEN_SUFFIX).lower()] = value
    return tokens


def _write_tokens(directory: Path, *, url: str, tokens: dict[str, str]) -> None:
    """`.lab/tokens.env`: the web address and a token per demo person, for a shell or curl."""
    lines = [
        "# Written by `livinglab demo`: the lab's web address and its people's tokens.",
        f"LAB_URL={url}",
    ]
    for person in seed.PEOPLE:
        if person.handle in tokens:
            lines.append(
                f"# {person.name} <{person.email}>, {person.role.value} at {person.organisation_id}"
            )
            lines.append(
                f"{person.handle.upper()}{_TOKEN_SUFFIX}={tokens[person.handle]}"
            )
    path = directory / "tokens.env"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _start_api(lab: _Lab) -> str:
    """The API and web pages on a free loopback port; returns their address."""
    port = free_port()
    admin = {
        # Device registration and credential rotation through the API need the broker's admin.
        "LIVINGLAB_MQTT_ADMIN_USER": lab.mosquitto.admin_user,
        "LIVINGLAB_MQTT_ADMIN_PASSWORD": lab.mosquitto.admin_password,
    }
    _spawn(
        lab,
        "api",
        ["-m", "livinglab_platform", "api", "--host", "127.0.0.1", "--port", str(port)],
        extra_env=admin,
    )
    wait_for_port(port, process=lab.processes["api"])
    return f"http://127.0.0.1:{port}"


def _print_people(console: Console, *, url: str, tokens: dict[str, str]) -> None:
    console.print(f"  demo people: sign in at {url}/ with a token")
    for person in seed.PEOPLE:
        if person.handle in tokens:
            # soft_wrap: a token cut by the terminal's width could not be copied.
            console.print(
                f"    {person.name}, {person.role.value} at {person.organisation_id}:"
                f" {tokens[person.handle]}",
                soft_wrap=True,
                highlight=False,
            )


def _write_agent_config(lab: _Lab, pilot: Pilot) -> None:
    directory = _agent_dir(lab, pilot)
    config = f"""# Written by `livinglab demo`: a simulated {pilot.kind} station at site {pilot.site_id}.
device_id = "{pilot.device_id}"
heartbeat_interval_s = {HEARTBEAT_S}

[mqtt]
host = "{lab.mosquitto.host}"
tls = false
port = {lab.mosquitto.port}
password_file = "{directory / "password"}"

[outbox]
path = "{directory / "outbox.db"}"

[uplink]
batch_size = 200
batch_max_age_s = 1.0

[[sensors]]
name = "{pilot.kind}"
driver = "simulated"
interval_s = 0.1
options = {{ kind = "{pilot.kind}", dropout = 0.005 }}
"""
    (directory / "agent.toml").write_text(config)


def _spawn(
    lab: _Lab,
    name: str,
    args: list[str],
    *,
    extra_env: dict[str, str] | None = None,
) -> None:
    log = (lab.directory / "logs" / f"{name}.log").open("ab")
    lab.processes[name] = subprocess.Popen(
        [sys.executable, *args],
        env=os.environ | _service_env(lab) | (extra_env or {}),
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


def _outbox_totals(lab: _Lab) -> tuple[int, int]:
    """(readings acknowledged by the broker, readings still buffered) over all agents' outboxes."""
    acked = depth = 0
    for pilot in PILOTS:
        path = _agent_dir(lab, pilot) / "outbox.db"
        if path.exists():
            with Outbox.open(path) as outbox:
                stats = outbox.stats()
            acked += stats.acked
            depth += stats.depth
    return acked, depth


def _counts(conn: Connection) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT coalesce(sum(readings), 0) FROM deliveries), (SELECT count(*) FROM quarantine)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _status_table(
    conn: Connection,
    *,
    rate: float,
    stored: int,
    quarantined: int,
    elapsed: float,
) -> Table:
    rows: list[tuple[Any, ...]] = conn.execute(
        """SELECT d.id, d.site_id, s.online AND s.last_seen > now() - make_interval(secs => %s) AS online,
                  s.last_seen, s.outbox_depth, s.clock_synced
           FROM devices d LEFT JOIN device_status s ON s.device_id = d.id ORDER BY d.id""",
        (3 * HEARTBEAT_S,),
    ).fetchall()
    online = sum(1 for r in rows if r[2])
    table = Table(
        title=f"living lab: {elapsed:.0f} s, {rate:,.0f} readings/s stored, {stored:,} stored, {online}/{len(rows)} devices online, {quarantined} quarantined"
    )
    for column in ("device", "site", "online", "last seen", "outbox", "clock"):
        table.add_column(column)
    for device_id, site_id, is_online, last_seen, depth, synced in rows:
        seen = (
            f"{time.time() - last_seen.timestamp():.0f} s ago" if last_seen else "never"
        )
        clock = "-" if synced is None else ("synced" if synced else "not synced")
        table.add_row(
            device_id,
            site_id,
            "[green]yes[/]" if is_online else "[red]no[/]",
            seen,
            "-" if depth is None else str(depth),
            clock,
        )
    return table


def _watch(lab: _Lab, duration_s: float | None, console: Console) -> None:
    started = time.monotonic()
    with (
        db.connect(lab.dsn, autocommit=True) as conn,
        Live(console=console, refresh_per_second=2, transient=False) as live,
    ):
        last_stored, _ = _counts(conn)
        last_time = time.monotonic()
        while duration_s is None or time.monotonic() - started < duration_s:
            time.sleep(REFRESH_S)
            for name, process in lab.processes.items():
                if process.poll() is not None:
                    raise ServiceError(
                        f"{name} exited with code {process.returncode}; see {lab.directory / 'logs' / (name + '.log')}"
                    )
            stored, quarantined = _counts(conn)
            now = time.monotonic()
            rate = (stored - last_stored) / (now - last_time)
            last_stored, last_time = stored, now
            live.update(
                _status_table(
                    conn,
                    rate=rate,
                    stored=stored,
                    quarantined=quarantined,
                    elapsed=now - started,
                )
            )


def _wait_for_ingest(lab: _Lab, *, expected: int) -> None:
    """Wait until the database holds every reading the broker acknowledged (or time runs out)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    with db.connect(lab.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline and _counts(conn)[0] < expected:
            time.sleep(0.2)


def _summarise(
    lab: _Lab, *, acked_before: int, stored_before: int, quarantined_before: int
) -> DemoSummary:
    acked_after, left = _outbox_totals(lab)
    with db.connect(lab.dsn) as conn:
        stored_after, quarantined_after = _counts(conn)
        row = conn.execute(
            "SELECT count(*) - count(DISTINCT (sensor_id, time)) FROM readings"
        ).fetchone()
    duplicated = int(row[0]) if row else 0
    sent = acked_after - acked_before
    stored = stored_after - stored_before
    return DemoSummary(
        sent=sent,
        stored=stored,
        lost=max(sent - stored, 0),
        duplicated=duplicated,
        quarantined=quarantined_after - quarantined_before,
        left_in_outboxes=left,
    )


def run_demo(
    *, lab_dir: Path, duration_s: float | None, console: Console
) -> DemoSummary | None:
    """Run the lab until Ctrl-C (or for `duration_s`) and stop everything cleanly; return the summary."""
    # Absolute: the agents' configs name files in it, and agents resolve relative paths
    # against their config file's folder.
    lab = _start_services(lab_dir.absolute(), console)
    summary = None
    try:
        tokens = _seed(lab, console)
        acked_before, _ = _outbox_totals(lab)
        with db.connect(lab.dsn) as conn:
            stored_before, quarantined_before = _counts(conn)
        _spawn(lab, "ingest", ["-m", "livinglab_platform.ingest"])
        for pilot in PILOTS:
            _spawn(
                lab,
                pilot.device_id,
                [
                    "-m",
                    "livinglab_edge_agent",
                    "run",
                    "--config",
                    str(_agent_dir(lab, pilot) / "agent.toml"),
                ],
            )
        url = _start_api(lab)
        _write_tokens(lab.directory, url=url, tokens=tokens)
        _print_people(console, url=url, tokens=tokens)
        console.print(
            f"  web pages at {url}/, API at {url}/api/v1 (docs at {url}/docs);"
            f" tokens in {lab.directory / 'tokens.env'}"
        )
        console.print(
            f"  ingest, API and {len(PILOTS)} agents running; logs in {lab.directory / 'logs'}; "
            + ("Ctrl-C stops" if duration_s is None else f"running {duration_s:.0f} s")
        )
        with contextlib.suppress(KeyboardInterrupt):
            _watch(lab, duration_s, console)
        console.print(
            "\nstopping: API and agents (they drain their outboxes), then ingest, broker and database"
        )
        _stop(
            lab.processes.pop("api"),
            *(lab.processes.pop(pilot.device_id) for pilot in PILOTS),
        )
        acked_after, _ = _outbox_totals(lab)
        _wait_for_ingest(lab, expected=stored_before + acked_after - acked_before)
        _stop(lab.processes.pop("ingest"))
        summary = _summarise(
            lab,
            acked_before=acked_before,
            stored_before=stored_before,
            quarantined_before=quarantined_before,
        )
        _print_summary(summary, console)
    finally:
        _stop(*lab.processes.values())
        lab.mosquitto.stop()
        lab.postgres.stop()
    return summary


def _print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title="demo summary (this run)")
    table.add_column("readings")
    table.add_column("count", justify="right")
    for label, value in (
        ("sent (acknowledged by the broker)", summary.sent),
        ("stored", summary.stored),
        ("lost", summary.lost),
        ("duplicated", summary.duplicated),
        ("quarantined messages", summary.quarantined),
        ("still buffered in outboxes", summary.left_in_outboxes),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    # The last line is machine-readable for scripts and tests.
    sys.stdout.write(json.dumps(dataclasses.asdict(summary)) + "\n")
