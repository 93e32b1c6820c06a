"""`bench agent`'s table: the result's figures for a person, the JSON line being for programs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["report"]


def _by_thread(ms_per_s: dict[str, float]) -> str:
    return ", ".join(f"{name} {value}" for name, value in ms_per_s.items())


def report(console: Console, result: dict[str, Any], *, errors: list[str]) -> None:
    table = Table(title="livinglab edge agent benchmark", show_header=False)
    table.add_column()
    table.add_column(justify="right")
    for name, value in [
        (
            "steady state: readings sampled / s",
            f"{result['steady_readings_per_s']:,} ({result['sensors']} simulated sensors"
            f" every {result['sensor_interval_s']} s)",
        ),
        ("idle (no sensors): CPU of one core", f"{result['idle_cpu_percent']} %"),
        ("steady state: CPU per reading", f"{result['cpu_us_per_reading']} us"),
        (
            "fast: readings sampled / s",
            f"{result['fast_readings_per_s']:,} ({result['sensors_fast']} simulated sensors)",
        ),
        ("fast: CPU per reading", f"{result['cpu_us_per_reading_fast']} us"),
        ("fast: CPU of one core", f"{result['fast_cpu_percent']} %"),
        ("fast: memory VmRSS", f"{result['fast_rss_mb']} MiB"),
        ("steady state: CPU of one core", f"{result['steady_cpu_percent']} %"),
        (
            "steady state: CPU by thread, ms/s",
            _by_thread(result["steady_cpu_ms_per_s_by_thread"]),
        ),
        (
            "fast: CPU by thread, ms/s",
            _by_thread(result["fast_cpu_ms_per_s_by_thread"]),
        ),
        (
            "steady state: memory VmRSS / VmHWM",
            f"{result['rss_mb']} / {result['hwm_mb']} MiB",
        ),
        (
            "steady state: lost / duplicated",
            f"{result['steady_lost']} / {result['steady_duplicated']}",
        ),
        ("backlog", f"{result['backlog']:,} readings"),
        ("backlog: prefill with Outbox.add", f"{result['prefill_seconds']} s"),
        (
            "backlog: drained (agent start -> last reading received)",
            f"{result['drain_seconds']} s, {result['drain_readings_per_s']:,} readings/s",
        ),
        (
            "backlog: first to last message",
            f"{result['drain_publish_readings_per_s']:,} readings/s",
        ),
        ("backlog: CPU per reading", f"{result['drain_cpu_us_per_reading']} us"),
        (
            "backlog: memory VmRSS / VmHWM",
            f"{result['drain_rss_mb']} / {result['drain_hwm_mb']} MiB",
        ),
        (
            "backlog: lost / duplicated / left in outbox",
            f"{result['lost']} / {result['duplicated']} / {result['outbox_depth_after']}",
        ),
        (
            "machine",
            f"{result['cores']} cores, SQLite {result['sqlite']}, load {result['load_average']}",
        ),
        ("heartbeats (window's bounds)", f"every {result['heartbeat_interval_s']} s"),
        ("outbox WAL at start (0: new, growing)", f"{result['outbox_wal_mib']} MiB"),
    ]:
        table.add_row(name, str(value))
    console.print(table)
    for error in errors:
        console.print(f"[red]{error}[/]")
