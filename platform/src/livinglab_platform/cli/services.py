"""`livinglab db|broker|ingest|api`: the platform's services."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from livinglab_platform.cli.terminal import console, unit_of_work
from livinglab_platform.core.dynsec import DynSec, bootstrap, list_clients
from livinglab_platform.core.identities import (
    PLATFORM_USER,
    ServiceIdentities,
    check_client,
)
from livinglab_platform.core.roles import ServiceRole, create_login
from livinglab_platform.core.settings import (
    BrokerSettings,
    IngestSettings,
    RetentionSettings,
)

if TYPE_CHECKING:
    from livinglab_platform.data.retention import RetentionPlan

__all__ = ["api", "broker_app", "db_app", "ingest"]

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
broker_app = typer.Typer(
    help="Broker administration (dynamic security).", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to LIVINGLAB_DATABASE_URL (idempotent)."""
    from livinglab_platform.core import db

    applied = db.upgrade(IngestSettings().database_url)
    console.print(
        f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}; schema is up to date"
    )


@db_app.command("login")
def db_login(
    name: Annotated[str, typer.Argument(help="The login user, e.g. api")],
    role: Annotated[
        ServiceRole, typer.Option(help="The service's group role (migration 006)")
    ],
) -> None:
    """Create login NAME in ROLE's group, or give it a new password; the password is read from
    stdin (prompted for at a terminal), never from the command line."""
    if sys.stdin.isatty():
        password = typer.prompt(
            "password", hide_input=True, confirmation_prompt=True, err=True
        )
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise typer.BadParameter("give the password on stdin")
    with unit_of_work() as conn:
        created = create_login(conn, name=name, role=role, password=password)
    console.print(
        f"{'created' if created else 'updated'} login {name} in livinglab_{role.value}"
    )


@db_app.command("retention")
def db_retention(
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Days of raw readings to keep; default LIVINGLAB_RAW_RETENTION_DAYS",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be dropped; drop nothing"),
    ] = False,
) -> None:
    """Drop raw readings' chunks older than the retention period (as the schema's owner).

    Chunks holding readings an open trial still needs are kept; rollups are always kept.
    """
    from livinglab_platform.data.retention import apply_retention, plan_retention

    days = days if days is not None else RetentionSettings().raw_retention_days
    if days is None:
        console.print(
            "retention: LIVINGLAB_RAW_RETENTION_DAYS is not set, every raw reading is kept",
            highlight=False,
        )
        return
    with unit_of_work() as conn:
        plan = plan_retention(conn, days=days)
        dropped = [] if dry_run else apply_retention(conn, plan=plan)
    _print_retention(plan, dropped=dropped, dry_run=dry_run)


def _print_retention(plan: RetentionPlan, *, dropped: list[str], dry_run: bool) -> None:
    console.print(
        f"retention: keep {plan.days} days of raw readings, cutoff {plan.requested:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    if plan.held_by:
        trials = ", ".join(str(t) for t in plan.held_by)
        console.print(
            f"cutoff clamped to {plan.cutoff:%Y-%m-%d %H:%M} UTC: open trial(s) {trials}"
            " still need older readings",
            highlight=False,
        )
    if not plan.chunks:
        console.print("nothing to drop; rollups kept", highlight=False)
        return
    first, last = plan.chunks[0], plan.chunks[-1]
    verb = "would drop" if dry_run else "dropped"
    count = len(plan.chunks) if dry_run else len(dropped)
    console.print(
        f"{verb} {count} chunk(s) of readings from {first.range_start:%Y-%m-%d %H:%M}"
        f" to {last.range_end:%Y-%m-%d %H:%M} UTC, about {plan.rows_estimate} readings;"
        " rollups kept",
        highlight=False,
    )
    for chunk in plan.chunks:
        console.print(
            f"  {chunk.name}  {chunk.range_start:%Y-%m-%d %H:%M} .. {chunk.range_end:%Y-%m-%d %H:%M}"
            f"  ~{chunk.rows_estimate} rows",
            highlight=False,
        )


@broker_app.command("bootstrap")
def broker_bootstrap() -> None:
    """Deny by default and create the ingest and platform roles and clients (idempotent)."""

    settings = BrokerSettings()
    ingest = IngestSettings()
    ingest_password = ingest.mqtt_password.get_secret_value()
    platform_password = settings.mqtt_platform_password.get_secret_value()
    if not ingest_password or not platform_password:
        raise typer.BadParameter(
            "set LIVINGLAB_MQTT_PASSWORD (ingest) and LIVINGLAB_MQTT_PLATFORM_PASSWORD first"
        )
    with DynSec.from_settings(settings) as dynsec:
        bootstrap(
            dynsec,
            ingest_password=ingest_password,
            platform_password=platform_password,
            ingest_user=ingest.mqtt_user,
        )
    console.print(
        "broker bootstrapped: default deny, roles ingest and platform, receipts ACLs on every"
        " device role,"
        f" clients {ingest.mqtt_user} and {PLATFORM_USER}",
        highlight=False,
    )


@broker_app.command("check")
def broker_check() -> None:
    """Report broker clients that clash with a service identity or lie outside both namespaces.

    Exit status 1 when there is a finding, 0 when every client is a device (username = pinned
    client id = a device id) or a service (`livinglab.` names).
    """
    settings = BrokerSettings()
    ingest = IngestSettings()
    services = ServiceIdentities(
        admin_user=settings.mqtt_admin_user,
        ingest_user=ingest.mqtt_user,
        ingest_client_id=ingest.ingest_client_id,
    )
    with DynSec.from_settings(settings) as dynsec:
        clients = list_clients(dynsec)
    table = Table("username", "client id", "roles", "finding", title="broker clients")
    for client in clients:
        finding = check_client(client, services)
        if finding is not None:
            roles = ", ".join(r.get("rolename", "?") for r in client.get("roles", []))
            table.add_row(
                str(client.get("username")),
                str(client.get("clientid") or "(any)"),
                roles or "-",
                finding,
            )
    if table.row_count:
        console.print(table)
    console.print(
        f"{len(clients)} client(s) checked: {table.row_count} finding(s)",
        highlight=False,
    )
    if table.row_count:
        raise typer.Exit(code=1)


def ingest() -> None:
    """Run the ingest service (MQTT -> TimescaleDB) until SIGTERM."""
    from livinglab_platform.ingest.__main__ import main as ingest_main

    ingest_main()


def api(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on; default LIVINGLAB_API_HOST"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port to listen on; default LIVINGLAB_API_PORT"
        ),
    ] = None,
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web pages until Ctrl-C or SIGTERM."""
    import uvicorn

    from livinglab_platform.api import create_app
    from livinglab_platform.core.settings import ApiSettings

    settings = ApiSettings()
    overrides = {"api_host": host, "api_port": port}
    settings = settings.model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    console.print(
        f"livinglab API on http://{settings.api_host}:{settings.api_port}/"
        f" (OpenAPI docs at /docs), database {_without_password(settings.database_url)}",
        highlight=False,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
    )


def _without_password(dsn: str) -> str:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unreadable LIVINGLAB_DATABASE_URL)"
    parts.pop("password", None)
    return make_conninfo("", **parts)
