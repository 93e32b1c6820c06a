"""`livinglab demo|chaos|bench`: the local lab's commands, added to `livinglab` when this package is installed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated, cast

import typer

from livinglab_platform.cli.terminal import console

__all__ = ["bench_app", "chaos", "demo", "register"]

bench_app = typer.Typer(
    help="Benchmarks (results as a table, then one JSON line).", no_args_is_help=True
)


@bench_app.callback()
def bench(ctx: typer.Context) -> None:
    """Benchmarks (results as a table, then one JSON line)."""
    from livinglab_lab.demo.stopping import stop_signals

    # Every benchmark starts servers of its own (PostgreSQL, Mosquitto, agents, the ingest) and
    # stops them as its ExitStack unwinds. SIGTERM (`timeout`, a service manager) and SIGHUP would
    # end the process without unwinding and leave them running: here they raise like Ctrl-C.
    ctx.with_resource(stop_signals())


def register(app: typer.Typer) -> None:
    """Add the lab's commands to the `livinglab` command (entry point `livinglab.commands`)."""
    app.command("demo")(demo)
    app.command("chaos")(chaos)
    app.add_typer(bench_app, name="bench")


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
    from rich.console import Console

    from livinglab_lab.demo import run_demo
    from livinglab_lab.demo.logs import log_to_file
    from livinglab_lab.demo.stopping import GuardedStdout

    # `| head -5` or a `| tee` stopped with Ctrl-C: the demo still stops in order (stopping.py).
    stdout = GuardedStdout(sys.stdout)
    guarded = Console(file=cast("IO[str]", stdout), force_terminal=console.is_terminal)
    # Migration and seed records to .lab/logs/demo.log: the screen is for the person.
    with log_to_file(lab_dir / "logs" / "demo.log"):
        summary = run_demo(
            lab_dir=lab_dir, duration_s=duration, console=guarded, stdout=stdout
        )
    if summary is not None and (summary.lost or summary.duplicated):
        raise typer.Exit(code=1)


def chaos(
    runs: Annotated[int, typer.Option(help="Runs of each scenario")] = 20,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the kill moments (default: random, printed)"),
    ] = None,
    seconds: Annotated[
        float, typer.Option(help="Seconds of readings flowing in each run")
    ] = 10.0,
    partition_seconds: Annotated[
        float, typer.Option(help="Length of the agent-broker network partition")
    ] = 120.0,
    agents: Annotated[int, typer.Option(help="Agents per run")] = 2,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only these scenarios (repeatable)")
    ] = None,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the matrix's own services")
    ] = Path(".lab/chaos"),
) -> None:
    """Crash matrix: SIGKILL agents, broker, ingest and PostgreSQL while readings flow (and more);
    check every reading against the database. Exit 1 if any was lost, duplicated or wrong;
    stopped by SIGINT, SIGTERM or SIGHUP, it stops in order and exits 128 + the signal."""
    from livinglab_lab.chaos import Profile, exit_status, print_json, run_chaos

    result = run_chaos(
        lab_dir=lab_dir,
        runs=runs,
        seed=seed,
        profile=Profile(seconds=seconds, partition_s=partition_seconds, agents=agents),
        only=only,
        console=console,
    )
    print_json(result)
    if status := exit_status(result):
        raise typer.Exit(code=status)


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
    rounds: Annotated[
        int,
        typer.Option(
            help="Rounds of REF, REF-best and the burst, interleaved; the ratios are their medians"
        ),
    ] = 3,
    latency_seconds: Annotated[
        float,
        typer.Option(
            help="Seconds of paced publishing after the burst, for publish -> commit latency (0: none)"
        ),
    ] = 10.0,
    latency_rate: Annotated[
        float | None,
        typer.Option(
            help="Readings/s in the paced phase (default: half the bursts' median throughput, at most 100,000)"
        ),
    ] = None,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own services")
    ] = Path(".lab/bench"),
) -> None:
    """Measure the ingest pipeline's throughput (against a raw COPY and a naive bridge) and latency."""
    from livinglab_lab.bench.ingest import run_ingest_benchmark

    run_ingest_benchmark(
        lab_dir=lab_dir,
        readings=readings,
        devices=devices,
        batch_size=batch_size,
        naive_readings=naive_readings,
        rounds=rounds,
        latency_seconds=latency_seconds,
        latency_rate=latency_rate,
        console=console,
    )


@bench_app.command("dashboards")
def bench_dashboards(
    devices: Annotated[
        int, typer.Option(help="Devices of 5 sensors, a reading every 10 s")
    ] = 4,
    days: Annotated[float, typer.Option(help="Days of data, ending now")] = 365.0,
    raw_hours: Annotated[
        float,
        typer.Option(
            help="The last hours loaded as raw readings through the ingest's rollup code"
        ),
    ] = 24.0,
    repeats: Annotated[int, typer.Option(help="Runs of each query per range")] = 5,
    render_dir: Annotated[
        Path | None,
        typer.Option(
            help="Also write <uid>.html, each dashboard's last week drawn, here"
        ),
    ] = None,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own PostgreSQL")
    ] = Path(".lab/bench-dashboards"),
) -> None:
    """Time every dashboard panel's expanded query as the read-only login, per range (p50/p95)."""
    from livinglab_lab.bench.dashboards import run_dashboards_benchmark

    run_dashboards_benchmark(
        lab_dir=lab_dir,
        devices=devices,
        days=days,
        raw_hours=raw_hours,
        repeats=repeats,
        console=console,
        render_dir=render_dir,
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
    from livinglab_lab.bench.agent import run_agent_benchmark

    run_agent_benchmark(lab_dir=lab_dir, backlog=backlog, console=console)


@bench_app.command("query")
def bench_query(
    days: Annotated[
        int, typer.Option(help="Days of readings to load, ending 2026-11-30")
    ] = 365,
    sensors: Annotated[int, typer.Option(help="Sensors (four per device)")] = 4,
    step_s: Annotated[
        float, typer.Option(help="Seconds between a sensor's readings")
    ] = 10.0,
    repeat: Annotated[int, typer.Option(help="Timed requests per cell")] = 20,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own PostgreSQL")
    ] = Path(".lab/bench-query"),
) -> None:
    """Time /api/v1/data over 1 to 365 days for every role; check partner and operator agree."""
    from livinglab_lab.bench.query import run_query_benchmark

    result = run_query_benchmark(
        lab_dir=lab_dir,
        days=days,
        sensors=sensors,
        step_s=step_s,
        repeat=repeat,
        console=console,
    )
    if not result["partner_equals_operator"]:
        raise typer.Exit(code=1)


@bench_app.command("export")
def bench_export(
    days: Annotated[
        int, typer.Option(help="Days of readings to load, ending 2026-11-30")
    ] = 365,
    step_s: Annotated[
        float, typer.Option(help="Seconds between the sensor's readings")
    ] = 10.0,
    lab_dir: Annotated[
        Path, typer.Option(help="Scratch directory for the benchmark's own PostgreSQL")
    ] = Path(".lab/bench-export"),
) -> None:
    """Time raw CSV and Parquet exports (API and CLI) against COPY ... TO STDOUT of the same rows."""
    from livinglab_lab.bench.export import run_export_benchmark

    result = run_export_benchmark(
        lab_dir=lab_dir, days=days, step_s=step_s, console=console
    )
    if not result["rows_equal"]:
        raise typer.Exit(code=1)
