"""`livinglab devices show|config`, `livinglab quarantine list|show`: delivery problems and remote
configuration at the terminal, through the same domain modules as the API, as an operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import (
    Column,
    FormatOption,
    ListFormat,
    console,
    format_moment,
    operator,
    parse_moment,
    print_listing,
    unit_of_work,
)
from livinglab_platform.core.errors import InvalidInputError
from livinglab_platform.core.settings import BrokerSettings
from livinglab_platform.registry import delivery, fleet, remote_config
from livinglab_platform.registry.schemas import (
    ConfigChange,
    DeviceConfigPublic,
    DevicePublic,
    QuarantineEntryPublic,
    SensorChange,
)

__all__ = ["devices_config", "devices_show", "quarantine_app"]

quarantine_app = typer.Typer(
    help="Messages the platform could not store, with the reason.",
    no_args_is_help=True,
)
# What `devices show` lists of each kind.
SHOWN = 10


def _status(device: DevicePublic) -> str:
    if device.revoked:
        return "revoked"
    if device.online is None:
        return "never heard"
    state = "online" if device.online else "offline (silent or said offline)"
    return f"{state}; silent after {device.silent_after_s:g} s without a heartbeat"


def _config_line(config: DeviceConfigPublic) -> str:
    if config.revision is None:
        return "none set (the device runs its own agent.toml)"
    answer = f": {config.message}" if config.message else ""
    return (
        f"revision {config.revision} {config.state.value}{answer}"
        f" (device reports revision {config.reported_revision if config.reported_revision is not None else '-'};"
        f" set by {config.set_by} at {format_moment(config.set_at)})"
    )


def devices_show(
    device_id: Annotated[str, typer.Argument(help="Device id")],
    hours: Annotated[
        int, typer.Option(min=1, max=8784, help="Delivery over the last N hours")
    ] = 24,
) -> None:
    """One device: status, outbox, clock, configuration, events, delivery gaps, quarantine."""
    end = datetime.now(UTC)
    principal = operator()
    with unit_of_work() as conn:
        device = fleet.get_device(conn, principal, device_id)
        config = remote_config.get_config(conn, principal, device_id)
        events = delivery.device_events(conn, principal, device_id, limit=SHOWN)
        report = delivery.delivery(
            conn, principal, device_id, start=end - timedelta(hours=hours), end=end
        )
        quarantined = delivery.list_quarantined(
            conn, principal, device_id=device_id, limit=SHOWN
        )
    console.print(
        f"[bold]{device.id}[/] at {device.site_id}, owner {device.organisation_id or '-'}"
    )
    console.print(f"  sensors      {', '.join(s.key for s in device.sensors) or '-'}")
    console.print(f"  status       {_status(device)}")
    console.print(f"  last seen    {format_moment(device.last_seen)}")
    # Readings the device holds that the broker has not acknowledged (its heartbeat's count).
    outbox = "-" if device.outbox_depth is None else f"{device.outbox_depth:,} readings"
    console.print(f"  outbox       {outbox}")
    # Readings sent but not yet receipted as stored, when the device's status reports them.
    unreceipted = getattr(device, "unreceipted", None)
    if unreceipted is not None:
        console.print(f"  unreceipted  {unreceipted:,} readings")
    clock = (
        "-"
        if device.clock_synced is None
        else ("synced" if device.clock_synced else "not synced")
    )
    if device.clock_offset_ms is not None:
        clock += f", offset {device.clock_offset_ms:+.1f} ms"
    console.print(f"  clock        {clock}")
    console.print(f"  config       {_config_line(config)}")
    complete = "-" if report.completeness is None else f"{report.completeness:.1%}"
    console.print(
        f"  delivery     last {hours} h: {report.batches:,} of {report.expected:,} batches ({complete}),"
        f" {len(report.gaps)} gap(s)"
    )
    for gap in report.gaps:
        explained = (
            f"; quarantined: {', '.join(map(str, gap.quarantined))}"
            if gap.quarantined
            else ""
        )
        console.print(
            f"    seq {gap.first_missing}-{gap.last_missing} ({gap.missing} missing) between"
            f" {format_moment(gap.after_time)} and {format_moment(gap.before_time)}{explained}"
        )
    console.print(f"  events       {len(events)} latest")
    for e in events:
        revision = f" revision {e.revision}" if e.revision is not None else ""
        console.print(
            f"    {format_moment(e.time)} {e.type}{revision} {e.message or ''}".rstrip()
        )
    console.print(
        f"  quarantine   {len(quarantined)} latest (livinglab quarantine show ID)"
    )
    for q in quarantined:
        console.print(
            f"    {q.id} {format_moment(q.received_at)} {q.reason}", highlight=False
        )


def _pairs(values: list[str], option: str) -> dict[str, float]:
    result = {}
    for text in values:
        name, _, number = text.partition("=")
        try:
            result[name.strip()] = float(number)
        except ValueError:
            raise InvalidInputError(
                f"{option} {text!r} is not NAME=SECONDS, e.g. air_temperature=10",
                field="sensors",
            ) from None
    return result


def devices_config(
    device_id: Annotated[str, typer.Argument(help="Device id")],
    interval: Annotated[
        list[str] | None,
        typer.Option(help="NAME=SECONDS: a sensor's sampling interval; repeat"),
    ] = None,
    enable: Annotated[
        list[str] | None, typer.Option(help="Sensor NAME to sample")
    ] = None,
    disable: Annotated[
        list[str] | None, typer.Option(help="Sensor NAME to stop sampling")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Readings per batch")] = None,
    batch_max_age: Annotated[
        float | None, typer.Option(help="Seconds a batch waits at most")
    ] = None,
    heartbeat: Annotated[
        float | None, typer.Option(help="Seconds between status messages")
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Only show it")] = False,
) -> None:
    """Set a device's desired configuration (published retained), or --show desired vs applied."""
    sensors: dict[str, dict[str, object]] = {}
    for name, seconds in _pairs(interval or [], "--interval").items():
        sensors.setdefault(name, {})["interval_s"] = seconds
    for name in enable or []:
        sensors.setdefault(name, {})["enabled"] = True
    for name in disable or []:
        sensors.setdefault(name, {})["enabled"] = False
    change = ConfigChange(
        batch_size=batch_size,
        batch_max_age_s=batch_max_age,
        heartbeat_interval_s=heartbeat,
        sensors={k: SensorChange.model_validate(v) for k, v in sensors.items()},
    )
    if not show and change == ConfigChange():
        raise InvalidInputError(
            "nothing to change: give --interval, --enable, --disable, --batch-size,"
            " --batch-max-age or --heartbeat, or --show"
        )
    with unit_of_work() as conn:
        if show:
            config = remote_config.get_config(conn, operator(), device_id)
        else:
            config = remote_config.set_config(
                conn, BrokerSettings(), operator(), device_id=device_id, change=change
            )
    console.print(f"device [bold]{device_id}[/] config {_config_line(config)}")
    if config.desired is not None:
        console.print(f"  desired {config.desired}", highlight=False)


def _entries(
    entries: list[QuarantineEntryPublic], *, output_format: ListFormat
) -> None:
    print_listing(
        f"{len(entries)} quarantined message(s), newest first",
        (
            Column("id", right=True),
            Column("received_at", "received"),
            Column("device_id", "device"),
            Column("seq", right=True),
            Column("claimed_seq", "claimed seq", right=True),
            Column("reason"),
        ),
        (
            (q.id, q.received_at, q.device_id, q.seq, q.claimed_seq, q.reason)
            for q in entries
        ),
        output_format=output_format,
    )


@quarantine_app.command("list")
def quarantine_list(
    device: Annotated[str | None, typer.Option(help="Only this device's")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="A date (from its Ljubljana midnight) or a date-time (Ljubljana's clock"
            " unless it has an offset)"
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """Quarantined messages with their reasons, newest first."""
    start = parse_moment(since) if since else None
    with unit_of_work() as conn:
        entries = delivery.list_quarantined(
            conn, operator(), device_id=device, since=start, limit=limit
        )
    _entries(entries, output_format=output_format)


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(help="Quarantine entry id")],
) -> None:
    """One quarantined message: topic, device, seq or claimed seq, reason, size, first bytes."""
    with unit_of_work() as conn:
        q = delivery.get_quarantined(conn, operator(), entry_id)
    for label, value in (
        ("id", q.id),
        ("received", format_moment(q.received_at)),
        ("topic", q.topic),
        ("device", q.device_id or "-"),
        ("seq", "-" if q.seq is None else q.seq),
        ("claimed seq", "-" if q.claimed_seq is None else q.claimed_seq),
        ("readings", "-" if q.readings is None else q.readings),
        ("reason", q.reason),
        ("payload", f"{q.payload_bytes:,} bytes, starting {q.payload_head}"),
    ):
        console.print(f"{label:<12} {value}", highlight=False)
