"""Local services of a lab on one machine: a PostgreSQL cluster with TimescaleDB and a Mosquitto.

Used by `livinglab demo`, the benchmark and the test fixtures. Each service runs from its own
directory on a free loopback port, never the standard ones, and is stopped by its own pid.
PostgreSQL refuses to run as root, so under root both run as an unprivileged system user.

The cluster trusts nobody: every connection, over TCP or the socket, authenticates with
SCRAM-SHA-256 (pg_hba.conf is written at every start, also over a cluster made before), and the
superuser's password is generated once and kept beside the data directory in a file only its owner
can read (`<directory>.password`, mode 0600).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from livinglab_lab.errors import ServiceError
from livinglab_lab.ports import START_TIMEOUT_S, free_port, wait_for_port
from livinglab_platform.core.identities import (
    ADMIN_USER,
    INGEST_USER,
    PLATFORM_USER,
)

__all__ = ["Mosquitto", "Postgres"]

SUPERUSER = "postgres"
# The only rules of the lab's pg_hba.conf: no `trust`, no `peer`, a password for everyone.
PG_HBA = """\
# Written by livinglab_lab.services at every start: every connection proves a password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""
BROKER_CONFIG_TEMPLATE = (
    Path(__file__).resolve().parents[3] / "broker" / "mosquitto.dev.conf"
)


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ServiceError(
            f"{binary} not found: install the Debian package {package} (make system does)"
        )
    return path


def _service_user(name: str) -> pwd.struct_passwd | None:
    """The unprivileged user services run as under root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise ServiceError(
            f"running as root needs the system user {name!r}; install the package that creates it"
        ) from exc


def _own(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [
            root,
            *(os.path.join(root, d) for d in dirs),
            *(os.path.join(root, f) for f in files),
        ]:
            os.chown(name, user.pw_uid, user.pw_gid)


def _reachable_dir(
    directory: Path, user: pwd.struct_passwd | None, prefix: str
) -> Path:
    """`directory`, or a link from it into /tmp when the service user cannot reach it (e.g. under /root)."""
    # Absolute: the servers resolve relative paths against their own working directory.
    directory = directory.absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.exists() or directory.is_symlink():
        return directory.resolve()
    if user is None or _can_traverse(directory.parent, user):
        directory.mkdir()
        return directory
    target = Path(tempfile.mkdtemp(prefix=prefix))
    directory.symlink_to(target)
    return target


def _can_traverse(path: Path, user: pwd.struct_passwd) -> bool:
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & 0o001 and part.stat().st_uid != user.pw_uid:
            return False
    return True


def _as_user(cmd: list[str], user: pwd.struct_passwd | None) -> list[str]:
    return cmd if user is None else ["runuser", "-u", user.pw_name, "--", *cmd]


def _postgres_bindir() -> Path:
    configured = os.environ.get("LIVINGLAB_PG_BINDIR")
    if configured:
        return Path(configured)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    return Path(_require("pg_ctl", "postgresql-15")).parent


def _write_secret(path: Path, value: str) -> None:
    """Write `value` to a file only its owner can read, never readable by others meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")


def _initdb(
    bindir: Path, data_dir: Path, user: pwd.struct_passwd | None, password: str
) -> None:
    """A new cluster whose superuser has `password`, SCRAM-SHA-256 for every connection."""
    _own(data_dir, user)
    os.chmod(data_dir, 0o700)
    # initdb reads the password from a file; the service user must be able to read it (0600).
    with tempfile.TemporaryDirectory(prefix="livinglab-initdb-") as folder:
        pwfile = Path(folder) / "password"
        _write_secret(pwfile, password)
        _own(Path(folder), user)
        init = [
            str(bindir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
        ]
        result = subprocess.run(
            _as_user(init, user), capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        raise ServiceError(f"initdb failed: {result.stderr.strip()}")


@dataclass
class Postgres:
    """A PostgreSQL cluster in `data_dir` listening on 127.0.0.1:`port`, TimescaleDB preloaded."""

    data_dir: Path
    port: int
    bindir: Path
    user: pwd.struct_passwd | None
    password: str
    # `<directory>.password` beside the directory given, mode 0600: the superuser's password.
    password_file: Path

    @classmethod
    def create(
        cls, directory: Path, *, port: int | None = None, durable: bool = True
    ) -> Postgres:
        """Initialise a cluster in `directory` unless one is there; `durable=False` turns fsync off (tests)."""
        user = _service_user("postgres")
        bindir = _postgres_bindir()
        if not (bindir / "initdb").exists():
            raise ServiceError(
                f"initdb not found in {bindir}: install the Debian package postgresql-15"
            )
        password_file = directory.absolute().with_name(f"{directory.name}.password")
        data_dir = _reachable_dir(directory, user, "livinglab-pg-")
        port = port or free_port()
        initialised = (data_dir / "PG_VERSION").exists()
        # A cluster made before the lab had passwords (its superuser has none) gets one below.
        legacy = initialised and not password_file.exists()
        if initialised and not legacy:
            password = password_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(24)
            _write_secret(password_file, password)
        if not initialised:
            _initdb(bindir, data_dir, user, password)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{data_dir}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "password_encryption": "'scram-sha-256'",
            "max_connections": "200",
            "shared_buffers": "'512MB'",
            "max_wal_size": "'4GB'",
            "checkpoint_timeout": "'15min'",
            "fsync": "on" if durable else "off",
            "full_page_writes": "on" if durable else "off",
            "log_min_messages": "warning",
        }
        cluster = cls(data_dir, port, bindir, user, password, password_file)
        if cluster.running:
            cluster.stop()  # left behind by a run that was killed; it may hold an old port
        auto_conf = data_dir / "postgresql.auto.conf"
        auto_conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        hba = data_dir / "pg_hba.conf"
        hba.write_text(PG_HBA)
        _own(auto_conf, user)
        _own(hba, user)
        if legacy:
            cluster.set_superuser_password()
        return cluster

    def dsn(
        self,
        dbname: str = "postgres",
        *,
        user: str = SUPERUSER,
        password: str | None = None,
    ) -> str:
        """The URL of database `dbname` for `user` (by default the superuser, with its password)."""
        if password is None and user == SUPERUSER:
            password = self.password
        secret = f":{quote(password, safe='')}" if password else ""
        return f"postgresql://{quote(user, safe='')}{secret}@127.0.0.1:{self.port}/{dbname}"

    def set_superuser_password(self) -> None:
        """Give the superuser `password`, in single-user mode (the server must be stopped)."""
        cmd = [str(self.bindir / "postgres"), "--single", "-D", str(self.data_dir)]
        result = subprocess.run(
            _as_user([*cmd, SUPERUSER], self.user),
            input=f"ALTER ROLE {SUPERUSER} PASSWORD '{self.password}';\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or "ERROR" in result.stderr:
            raise ServiceError(
                f"could not set the superuser's password: {result.stderr.strip()}"
            )

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _pg_ctl(self, *args: str) -> None:
        cmd = [
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(int(START_TIMEOUT_S)),
            *args,
        ]
        result = subprocess.run(
            _as_user(cmd, self.user), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServiceError(
                f"pg_ctl {' '.join(args[:1])} failed: {result.stderr.strip()}\n{tail}"
            )

    def start(self) -> None:
        log = self.data_dir / "server.log"
        self._pg_ctl("-l", str(log), "start")
        wait_for_port(self.port)

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (`fast`: clean; `immediate`: like a crash, recovery on next start)."""
        if self.running:
            self._pg_ctl("-m", mode, "stop")

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database `name` (from `template` if given) and return its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            clause = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{clause}'.encode())
        return self.dsn(name)


# The lab's clients from before the service namespace (core/identities.py), and their new names.
_LEGACY_CLIENTS = {
    "admin": ADMIN_USER,
    "ingest": INGEST_USER,
    "platform": PLATFORM_USER,
}


def _rename_legacy_services(dynsec: Path) -> None:
    """Rename a lab's `admin`, `ingest` and `platform` clients, kept from before the namespace.

    The broker is stopped; a password hash does not depend on the username, so passwords stay.
    """
    document = json.loads(dynsec.read_text())
    clients = document.get("clients", [])
    names = {client.get("username") for client in clients}
    changed = False
    for client in clients:
        new = _LEGACY_CLIENTS.get(client.get("username"))
        if new is not None and new not in names:
            client["username"] = new
            changed = True
    if changed:
        dynsec.write_text(json.dumps(document, indent=4))


@dataclass
class Mosquitto:
    """A Mosquitto broker in `directory` on 127.0.0.1:`port` with the dynamic-security plugin."""

    directory: Path
    port: int
    admin_user: str
    admin_password: str
    user: pwd.struct_passwd | None
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        port: int | None = None,
        admin_password: str | None = None,
    ) -> Mosquitto:
        """Write the development config and, on first use, the dynamic-security file with its admin."""
        _require("mosquitto", "mosquitto")
        ctrl = _require("mosquitto_ctrl", "mosquitto-clients")
        plugins = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob(
            "/usr/lib/mosquitto_dynamic_security.so"
        )
        if not plugins:
            raise ServiceError(
                "mosquitto_dynamic_security.so not found: install the Debian package mosquitto"
            )
        user = _service_user("mosquitto")
        directory = _reachable_dir(directory, user, "livinglab-mqtt-")
        port = port or free_port()
        password_file = directory / "admin-password"
        if admin_password is None:
            admin_password = (
                password_file.read_text().strip()
                if password_file.exists()
                else os.urandom(18).hex()
            )
        dynsec = directory / "dynamic-security.json"
        if not dynsec.exists():
            result = subprocess.run(
                [ctrl, "dynsec", "init", str(dynsec), ADMIN_USER, admin_password],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServiceError(
                    f"mosquitto_ctrl dynsec init failed: {result.stderr.strip() or result.stdout.strip()}"
                )
            password_file.write_text(admin_password + "\n")
            password_file.chmod(0o600)
        else:
            _rename_legacy_services(dynsec)
        # Every client's password hash is in it: only the broker's user reads it (chowned below).
        dynsec.chmod(0o600)
        config = BROKER_CONFIG_TEMPLATE.read_text()
        for token, value in {
            "@PORT@": str(port),
            "@DIR@": str(directory),
            "@DYNSEC_PLUGIN@": plugins[0],
        }.items():
            config = config.replace(token, value)
        (directory / "mosquitto.conf").write_text(config)
        _own(directory, user)
        return cls(
            directory=directory,
            port=port,
            admin_user=ADMIN_USER,
            admin_password=admin_password,
            user=user,
        )

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def pid(self) -> int | None:
        return (
            self.process.pid
            if self.process is not None and self.process.poll() is None
            else None
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.directory / "mosquitto.conf")],
            # Mosquitto rewrites dynamic-security.json (and its persistence file) with the
            # process's umask: 077 keeps them readable by the broker's user only.
            umask=0o077,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout_s=15, process=self.process)
        except ServiceError as exc:
            stderr = (
                self.process.stderr.read().decode(errors="replace")
                if self.process.stderr
                else ""
            )
            log = self.directory / "mosquitto.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServiceError(
                f"mosquitto did not start: {exc}\n{stderr}{tail}"
            ) from exc

    def stop(self) -> None:
        """Stop cleanly: SIGTERM makes Mosquitto save its persistence file."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop like a crash: nothing is saved since the last autosave."""
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
