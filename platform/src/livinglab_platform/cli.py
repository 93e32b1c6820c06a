"""The `livinglab` command: database, registry, ingest, demo and benchmarks."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from livinglab_platform.config import BrokerSettings, IngestSettings
from livinglab_platform.errors import PlatformError

app = typer.Typer(
    help="livinglab: the open platform of Ljubljana's living lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
sites_app = typer.Typer(help="Pilot sites.", no_args_is_help=True)
devices_app = typer.Typer(
    help="Devices and their broker credentials.", no_args_is_help=True
)
broker_app = typer.Typer(
    help="Broker administration (dynamic security).", no_args_is_help=True
)
bench_app = typer.Typer(
    help="Benchmarks (results as a table, then one JSON line).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(sites_app, name="sites")
app.add_typer(devices_app, name="devices")
app.add_typer(broker_app, name="broker")
app.add_typer(bench_app, name="bench")

console = Console()
err = Console(stderr=True)


def _database_url() -> str:
    return IngestSettings().database_url


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to LIVINGLAB_DATABASE_URL (idempotent)."""
    from livinglab_platform import db

    applied = db.upgrade(_database_url())
    console.print(
        f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}; schema is up to date"
    )


@sites_app.command("add")
def sites_add(
    site_id: Annotated[str, typer.Argument(help="Short id, e.g. tp-ljubljana")],
    name: Annotated[str, typer.Option(help="Readable name")],
    latitude: Annotated[float | None, typer.Option(help="WGS84 latitude")] = None,
    longitude: Annotated[float | None, typer.Option(help="WGS84 longitude")] = None,
    address: Annotated[str | None, typer.Option(help="Street address")] = None,
) -> None:
    """Add a pilot site."""
    from livinglab_platform import db, sites

    with db.connect(_database_url()) as conn:
        sites.add_site(
            conn,
            site_id=site_id,
            name=name,
            latitude=latitude,
            longitude=longitude,
            address=address,
        )
        conn.commit()
    console.print(f"site {site_id} added")


@devices_app.command("add")
def devices_add(
    device_id: Annotated[
        str, typer.Argument(help="Device id; also its MQTT username and client id")
    ],
    site: Annotated[str, typer.Option(help="Site the device is installed at")],
    sensor: Annotated[
        list[str], typer.Option(help="KEY:QUANTITY:UNIT, repeat for each sensor")
    ],
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
) -> None:
    """Register a device and its sensors, create its broker client, print its password once."""
    from livinglab_platform import db, devices

    definitions = [devices.parse_sensor(s) for s in sensor]
    with db.connect(_database_url()) as conn, BrokerSettings().dynsec() as dynsec:
        credentials = devices.register_device(
            conn,
            dynsec,
            device_id=device_id,
            site_id=site,
            sensors=definitions,
            description=description,
        )
    console.print(
        f"device [bold]{device_id}[/] registered at site {site} with {len(definitions)} sensor(s)"
    )
    console.print("broker credentials (shown once, store them on the device now):")
    console.print(
        f"  username  = {credentials.username}\n  client_id = {credentials.client_id}\n  password  = {credentials.password}"
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


@app.command()
def ingest() -> None:
    """Run the ingest service (MQTT -> TimescaleDB) until SIGTERM."""
    from livinglab_platform.ingest.__main__ import main as ingest_main

    ingest_main()


@app.command()
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
    """Run a local living lab: database, broker, ingest and three simulated pilot-site agents."""
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


def main() -> None:
    """Entry point: configure logging and turn platform errors into one readable line."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except PlatformError as exc:
        err.print(f"[red]error:[/] {exc}")
        sys.exit(2)
