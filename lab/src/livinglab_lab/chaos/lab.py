"""The crash matrix's lab: PostgreSQL (fsync on), Mosquitto, the ingest service and journaled agents.

Every process is started from here through `Children` (children.py: started and recorded for the
watchdog as one step, so nothing outlives the matrix, however it ends), and can be killed with
SIGKILL and started again on the same port and data: PostgreSQL recovers from its WAL, Mosquitto
from its persistence file, the ingest resumes its broker session, an agent reopens its outbox. The
agents reach the broker through a proxy that can partition the network (proxy.py); the ingest
connects directly.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from livinglab_lab.chaos.children import Children
from livinglab_lab.chaos.journal import CLOCK_FILE, QUIET_FILE
from livinglab_lab.chaos.proxy import Proxy
from livinglab_lab.errors import ServiceError
from livinglab_lab.services import Mosquitto, Postgres
from livinglab_platform.core import db
from livinglab_platform.core.dynsec import DynSec, bootstrap
from livinglab_platform.core.identities import INGEST_USER
from livinglab_platform.registry import devices, sites

__all__ = ["SENSORS", "AgentOptions", "ChaosAgent", "ChaosLab"]

SITE_ID = "chaos"
# The three simulated kinds on one device: six keys, 60 readings/s at 10 Hz per sensor.
SENSORS = (
    ("air", "air", (("air_temperature", "degC"), ("relative_humidity", "%"), ("air_pressure", "hPa"))),
    ("pm", "particulate", (("pm2_5", "ug/m3"), ("pm10", "ug/m3"))),
    ("noise", "noise", (("noise_level", "dBA"),)),
)  # fmt: skip
STOP_TIMEOUT_S = 30.0
SUPERVISE_S = 1.0


@dataclass(frozen=True)
class AgentOptions:
    """What a scenario changes in an agent's configuration."""

    batch_size: int = 50
    batch_max_age_s: float = 0.5
    capacity: int = 1_000_000
    interval_s: float = 0.1


def _pids_under(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(proc.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _persist_in(mosquitto: Mosquitto, data: Path) -> None:
    """Keep the broker's persistence file in `data`, a folder of its own that can be filled."""
    data.mkdir()
    if mosquitto.user is not None:
        os.chown(data, mosquitto.user.pw_uid, mosquitto.user.pw_gid)
    config = mosquitto.directory / "mosquitto.conf"
    text = config.read_text()
    old = f"persistence_location {mosquitto.directory}/"
    if old not in text:
        raise ServiceError(f"{config} has no {old!r} to move")
    config.write_text(text.replace(old, f"persistence_location {data}/"))


def _start_postgres(postgres: Postgres, children: Children) -> None:
    """Start PostgreSQL, recorded by its pid file before pg_ctl starts it."""
    pidfile = postgres.data_dir / "postmaster.pid"
    children.by_pidfile("postgres", pidfile, postgres.start, stage=3)


def _start_broker(mosquitto: Mosquitto, children: Children) -> None:
    """Start Mosquitto (it waits for the port) and record it, as one step."""
    children.service("mosquitto", mosquitto.start, lambda: mosquitto.pid, stage=2)


def _exists(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class ChaosAgent:
    """One journaled agent in `directory`: agent.toml, password, outbox.db, journal-*.log."""

    device_id: str
    directory: Path
    children: Children
    process: subprocess.Popen[bytes] | None = None
    killed_pids: set[int] = field(default_factory=set)

    def start(self) -> None:
        self.process = self.children.popen(
            self.device_id,
            [
                sys.executable, "-m", "livinglab_lab.chaos.agent",
                str(self.directory / "agent.toml"), str(self.directory),
            ],
            stage=0,
            log=self.directory / "agent.log",
        )  # fmt: skip

    def wait_reading(self, *, timeout_s: float = 30.0) -> None:
        """Wait until this process's sensors have read something (it is up and sampling)."""
        assert self.process is not None
        journal = self.directory / f"journal-{self.process.pid}.log"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            if journal.exists() and journal.stat().st_size > 0:
                return
            time.sleep(0.02)

    def wait_purge(self, *, timeout_s: float = 30.0) -> None:
        """Wait until the outbox purges once more (its `dropped` counter grows)."""
        _, before = self.outbox()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.outbox()[1] == before:
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the journal file of this process may end with reads it never stored."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.killed_pids.add(self.process.pid)
        self.children.forget(self.device_id)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self.children.forget(self.device_id)

    def quiet(self) -> None:
        """The sensors read nothing from now on: what was read drains."""
        (self.directory / QUIET_FILE).touch()

    def jump_clock(self, offset_s: float) -> None:
        """Move the agent's wall clock by `offset_s` (the monotonic clock stays)."""
        (self.directory / CLOCK_FILE).write_text(str(int(offset_s * 1e9)))

    def outbox(self) -> tuple[int, int]:
        """(readings still in the outbox, readings it purged over capacity)."""
        path = self.directory / "outbox.db"
        if not path.exists():
            return 0, 0
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        ) as conn:
            pending = conn.execute(
                "SELECT coalesce(sum(readings), 0) FROM pending_packed"
            ).fetchone()[0]
            sealed = conn.execute(
                "SELECT coalesce(sum(readings), 0) FROM batches"
            ).fetchone()[0]
            dropped = conn.execute(
                "SELECT value FROM meta WHERE name = 'dropped'"
            ).fetchone()
        return int(pending + sealed), int(dropped[0]) if dropped else 0


@dataclass
class ChaosLab:
    """The matrix's services; `kill_*` kills one with SIGKILL and starts it again."""

    directory: Path
    postgres: Postgres
    mosquitto: Mosquitto
    dsn: str
    ingest_password: str
    proxy: Proxy
    children: Children
    ingest: subprocess.Popen[bytes] | None = None
    # Ingest restarts by the supervisor: the ingest exits when the database is down at its start,
    # and its service manager starts it again (systemd's Restart=on-failure, RestartSec=1).
    restarts: int = 0
    # Every agent of every run: the stop stops those a stop signal caught running.
    agents: list[ChaosAgent] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _mounted: bool = False

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_S):
            with self._lock:
                # Checked under the lock: the stop may have begun while this thread waited for it.
                if self.children.closed:
                    return
                if self.ingest is not None and self.ingest.poll() is not None:
                    self.children.forget("ingest")
                    self.restarts += 1
                    self._start_ingest()

    @classmethod
    def start(cls, directory: Path, *, children: Children) -> ChaosLab:
        postgres = Postgres.create(directory / "pg", durable=True)
        _start_postgres(postgres, children)
        dsn = postgres.create_database("livinglab")
        db.upgrade(dsn)
        mosquitto = Mosquitto.create(directory / "mqtt")
        _persist_in(mosquitto, directory / "mqtt-data")
        _start_broker(mosquitto, children)
        lab = cls(
            directory=directory,
            postgres=postgres,
            mosquitto=mosquitto,
            dsn=dsn,
            ingest_password=secrets.token_urlsafe(18),
            proxy=Proxy(upstream_port=mosquitto.port),
            children=children,
        )
        with lab.admin() as dynsec:
            bootstrap(
                dynsec,
                ingest_password=lab.ingest_password,
                platform_password=secrets.token_urlsafe(18),
            )
        with db.connect(dsn) as conn, db.unit_of_work(conn):
            sites.add_site(conn, site_id=SITE_ID, name="Crash matrix")
        lab.start_ingest()
        threading.Thread(target=lab._supervise, name="supervisor", daemon=True).start()
        return lab

    def admin(self) -> DynSec:
        return DynSec(
            host=self.mosquitto.host,
            port=self.mosquitto.port,
            user=self.mosquitto.admin_user,
            password=self.mosquitto.admin_password,
        )

    def start_ingest(self) -> None:
        with self._lock:
            self._start_ingest()

    def _start_ingest(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVINGLAB_")}
        env |= {
            "LIVINGLAB_DATABASE_URL": self.dsn,
            "LIVINGLAB_MQTT_HOST": self.mosquitto.host,
            "LIVINGLAB_MQTT_PORT": str(self.mosquitto.port),
            "LIVINGLAB_MQTT_USER": INGEST_USER,
            "LIVINGLAB_MQTT_PASSWORD": self.ingest_password,
        }
        self.ingest = self.children.popen(
            "ingest",
            [sys.executable, "-m", "livinglab_platform.ingest"],
            stage=1,
            log=self.directory / "ingest.log",
            env=env,
        )

    def kill_ingest(self, *, restart: bool = True) -> None:
        """SIGKILL the ingest; without `restart` it stays down until `start_ingest`."""
        with self._lock:
            assert self.ingest is not None
            self.ingest.kill()
            self.ingest.wait()
            self.children.forget("ingest")
            self.ingest = None
            if restart:
                self.start_ingest()

    def kill_broker(self) -> None:
        """SIGKILL Mosquitto: what it acknowledged since its last autosave is gone."""
        self.mosquitto.kill()
        self.children.forget("mosquitto")
        _start_broker(self.mosquitto, self.children)

    def restart_broker(self) -> None:
        """Stop Mosquitto cleanly (SIGTERM: it saves its state, if it can) and start it again."""
        self.mosquitto.stop()
        self.children.forget("mosquitto")
        _start_broker(self.mosquitto, self.children)

    def fill_broker_disk(self) -> str:
        """Put the broker's persistence folder on a full disk; say how.

        As root, a 64 KiB tmpfs mounted over it and filled up (writes fail with ENOSPC);
        otherwise the folder made read-only for the broker's user (writes fail with EACCES).
        """
        data = self.directory / "mqtt-data"
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs", str(data)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode == 0:
            self._mounted = True
            with contextlib.suppress(OSError), (data / "filler").open("wb") as filler:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
            return "a full 64 KiB tmpfs (ENOSPC)"
        data.chmod(0o555)
        return "a read-only folder (EACCES; mounting a tmpfs needs root)"

    def free_broker_disk(self) -> None:
        data = self.directory / "mqtt-data"
        if self._mounted:
            subprocess.run(["umount", "-l", str(data)], check=False)
            self._mounted = False
        data.chmod(0o755)

    def wait_for_transaction(self, *, timeout_s: float) -> bool:
        """Wait until another session is inside a transaction (the ingest storing a group)."""
        deadline = time.monotonic() + timeout_s
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.dsn, autocommit=True) as conn,
        ):
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                    " AND state IN ('active', 'idle in transaction')"
                ).fetchone()
                if row and row[0]:
                    return True
                time.sleep(0.002)
        return False

    def kill_postgres(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a power cut; then recover."""
        pid = self.postgres.pid
        victims = [] if pid is None else _pids_under(pid)
        for each in victims:
            with contextlib.suppress(OSError):
                os.kill(each, signal.SIGKILL)
        # The new postmaster refuses to start while an old process is still attached, and while
        # the old postmaster's pid answers kill(pid, 0), which a zombie not yet reaped does.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while any(_exists(each) for each in victims) and time.monotonic() < deadline:
            time.sleep(0.05)
        while pid is not None and Path(f"/proc/{pid}").exists():
            if time.monotonic() > deadline:
                # Dead (a zombie), so its lock is stale: as a reboot would leave it.
                (self.postgres.data_dir / "postmaster.pid").unlink(missing_ok=True)
                break
            time.sleep(0.05)
        _start_postgres(self.postgres, self.children)

    def add_agent(self, device_id: str, *, options: AgentOptions) -> ChaosAgent:
        """Register a device with the six simulated keys and write its journaled agent's config."""
        directory = self.directory / "agents" / device_id
        directory.mkdir(parents=True)
        keys = [
            devices.SensorDefinition(key, key, unit)
            for _, _, pairs in SENSORS
            for key, unit in pairs
        ]
        with (
            db.connect(self.dsn) as conn,
            self.admin() as dynsec,
            db.unit_of_work(conn),
        ):
            credentials = devices.register_device(
                conn, dynsec, device_id=device_id, site_id=SITE_ID, sensors=keys
            )
        (directory / "password").write_text(credentials.password + "\n")
        sensors = "".join(
            f'\n[[sensors]]\nname = "{name}"\ndriver = "simulated"\n'
            f"interval_s = {options.interval_s}\n"
            f'options = {{ kind = "{kind}", dropout = 0.0 }}\n'
            for name, kind, _ in SENSORS
        )
        (directory / "agent.toml").write_text(
            f'device_id = "{device_id}"\nheartbeat_interval_s = 2\n\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {self.proxy.port}\ntls = false\n'
            f'password_file = "password"\nkeepalive_s = 10\n\n'
            f'[outbox]\npath = "outbox.db"\ncapacity = {options.capacity}\n\n'
            f"[uplink]\nbatch_size = {options.batch_size}\n"
            f"batch_max_age_s = {options.batch_max_age_s}\ndrain_timeout_s = 2\n"
            + sensors
        )
        agent = ChaosAgent(device_id, directory, self.children)
        self.agents.append(agent)
        return agent

    def stop(self) -> None:
        """Stop the agents still running, the ingest, the broker and the database cleanly, in
        that order; start nothing more."""
        # Under the lock that the supervisor holds while it checks `closed` and starts the ingest.
        with self._lock:
            self.children.close()
        self._stopping.set()
        for agent in self.agents:
            agent.stop()
        with self._lock:
            self._stop_ingest()
        if self._mounted:
            self.free_broker_disk()
        self.proxy.close()
        self.mosquitto.stop()
        self.children.forget("mosquitto")
        self.postgres.stop(mode="immediate")
        self.children.forget("postgres")

    def _stop_ingest(self) -> None:
        if self.ingest is not None and self.ingest.poll() is None:
            self.ingest.terminate()
            try:
                self.ingest.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.ingest.kill()
                self.ingest.wait()
        self.children.forget("ingest")
