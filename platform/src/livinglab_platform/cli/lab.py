"""`livinglab db|broker|ingest|api|demo|bench`: the platform's services and the local lab."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import console
from livinglab_platform.config import BrokerSettings, IngestSettings

__all__ = [
    "api",
    "bench_app",
    "broker_app",
    "db_app",
    "demo",
    "ingest",
]

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
broker_app = typer.Typer(
    help="Broker administration (dynamic security).", no_args_is_help=True
)
bench_app = typer.Typer(
    help="Benchmarks (results as a table, then one JSON line).", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to LIVINGLAB_DATABASE_URL (idempotent)."""
    from livinglab_platform import db

    applied = db.upgrade(IngestSettings().database_url)
    console.print(
        f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}; schema is up to date"
    )


@broker_app.command("bootstrap")
def broker_bootstrap() -> None:
    """Deny by default and create the ingest and platform roles and clients (idempotent)."""
    from livinglab_platform import broker

    settings = BrokerSettings()
    ingest_password = IngestSettings().mqtt_password.get_secret_value()
    platform_password = settings.mqtt_platform_password.get_secret_value()
    if not ingest_password or not platform_password:
        raise typer.BadParameter(
            "set LIVINGLAB_MQTT_PASSWORD (ingest) and LIVINGLAB_MQTT_PLATFORM_PASSWORD first"
        )
    with settings.dynsec() as dynsec:
        broker.bootstrap(
            dynsec, ingest_password=ingest_password, platform_password=platform_password
        )
    console.print(
        "broker bootstrapped: default deny, roles ingest and platform, clients ingest and platform"
    )


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
    from livinglab_platform.api.settings import ApiSettings

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


def demo(
    duration: Annotated[
        float | None,
        typer.Option(
            help="Seconds to run, then print a summary; default: until Ctrl-C"
        ),
    ] = None,
    lab_dir: Annotated[
        Path, typer.Option(help="Where the lab keeps its services' data")
    ] = Path(".lab"),
) -> None:
    """Run a local living lab: database, broker, ingest, API and three simulated pilot-site agents."""
    from livinglab_platform.demo import run_demo

    summary = run_demo(lab_dir=lab_dir, duration_s=duration, console=console)
    if summary is not None and (summary.lost or summary.duplicated):
        raise typer.Exit(code=1)


@bench_app.command("ingest")
def bench_ingest(
    readings: Annotated[
        int, typer.Option(help="Readings to publish through the whole pipeline")
    ] = 2_000_000,
    devices: Annotated[
        int, typer.Option(help="Simulated devices publishing at once")
    ] = 8,
    batch_size: Annotated[
        int, typer.Option(help="Readings per telemetry batch")
    ] = 5_000,
    naive_readings: Annotated[
        int, typer.Option(help="Readings for the naive one-INSERT-per-message bridge")
    ] = 20_000,
    latency_seconds: Annotated[
        float,
        typer.Option(
            help="Seconds of paced publishing after the burst, for publish -> commit latency (0: none)"
        ),
    ] = 10.0,
    latency_rate: Annotated[
        float | None,
        typer.Option(
            help="Readings/s in the paced phase (default: half the burst's throughput, at most 100,000)"
        ),
    ] = None,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own services")
    ] = Path(".lab/bench"),
) -> None:
    """Measure the ingest pipeline's throughput (against a raw COPY and a naive bridge) and latency."""
    from livinglab_platform.bench.ingest import run_ingest_benchmark

    run_ingest_benchmark(
        lab_dir=lab_dir,
        readings=readings,
        devices=devices,
        batch_size=batch_size,
        naive_readings=naive_readings,
        latency_seconds=latency_seconds,
        latency_rate=latency_rate,
        console=console,
    )


@bench_app.command("agent")
def bench_agent(
    backlog: Annotated[
        int, typer.Option(help="Buffered readings to drain after a simulated outage")
    ] = 1_000_000,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own services")
    ] = Path(".lab/bench-agent"),
) -> None:
    """Measure the edge agent: CPU per reading, resident memory, backlog drain rate."""
    from livinglab_platform.bench.agent import run_agent_benchmark

    run_agent_benchmark(lab_dir=lab_dir, backlog=backlog, console=console)
