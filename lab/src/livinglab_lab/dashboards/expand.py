"""Grafana's expansion of a panel's SQL, re-implemented so that tests and the benchmark run the very
SQL Grafana would send, without a Grafana server.

The pipeline of Grafana's PostgreSQL data source (REFERENCE.md §2): template variables in the
browser (`$site`, `${sensor:sqlstring}`, `$__interval`, `$__interval_ms`), then the backend's global
substitutions, then its macro engine with `timescaledb: true`. Exact formats follow Grafana's Go
code: RFC 3339 with nanoseconds and no trailing zeros, `%v` floats, `time_bucket('%.3fs',col)`.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "Range",
    "auto_interval_ms",
    "expand",
    "expand_macros",
    "format_interval",
    "go_float",
    "interpolate_variables",
    "parse_interval",
    "rfc3339",
]

VariableValue = str | list[str]

# grafana-plugin-sdk-go gtime.FormatInterval: the largest unit reached, truncating.
_UNITS_MS = (
    ("y", 31_536_000_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
)
# Grafana's rangeutil.roundInterval: (below this many ms, use this many).
_ROUNDING_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000),
    (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)  # fmt: skip
_GO_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# grafana/scenes variables/constants.ts
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}"
)


@dataclass(frozen=True)
class Range:
    """A dashboard's time range, as the milliseconds Grafana sends."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, span: timedelta, *, now: datetime) -> Range:
        """`now-<span>` to `now`, cut to whole milliseconds as the browser sends them."""
        end = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return cls(end - span, end)


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: `2018-04-12T18:00:00Z`, `…:00.5Z`, trailing zeros dropped."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def go_float(value: float) -> str:
    """Go's `%v` for a float64 (strconv.FormatFloat(x, 'g', -1, 64)): `300`, `1.0368e+06`."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # Python's repr gives the same shortest round-tripping digits as Go.
    shortest = repr(abs(value))
    head, _, tail = shortest.partition("e")
    digits = head.replace(".", "").lstrip("0").rstrip("0") or "0"
    if tail:
        exponent = int(tail) + len(head.split(".")[0]) - 1
    else:
        whole, _, fraction = head.partition(".")
        if whole.lstrip("0"):
            exponent = len(whole.lstrip("0")) - 1
        else:
            exponent = -(len(fraction) - len(fraction.lstrip("0")) + 1)
    # "if precision was the shortest possible, use precision 6 for this decision" (ftoa.go)
    if exponent < -4 or exponent >= 6:
        rest = f".{digits[1:]}" if len(digits) > 1 else ""
        return (
            f"{sign}{digits[0]}{rest}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
        )
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    whole = digits[: exponent + 1].ljust(exponent + 1, "0")
    fraction = digits[exponent + 1 :]
    return f"{sign}{whole}" + (f".{fraction}" if fraction else "")


def format_interval(interval_ms: int) -> str:
    """gtime.FormatInterval (and the browser's secondsToHms): `500ms`, `20s`, `1m`, `2h`, `1d`."""
    for unit, size in _UNITS_MS:
        if interval_ms >= size:
            return f"{interval_ms // size}{unit}"
    return f"{max(interval_ms, 1)}ms"


def parse_interval(text: str, *, now: datetime | None = None) -> timedelta:
    """gtime.ParseInterval: `d w M y` counted from now in UTC, else Go's time.ParseDuration."""
    calendar_unit = re.fullmatch(r"(\d+)([dwMy])", text)
    if calendar_unit:
        n, unit = int(calendar_unit[1]), calendar_unit[2]
        if unit in "dw":
            return timedelta(days=n * (7 if unit == "w" else 1))
        now = now or datetime.now(UTC)
        months = n * (12 if unit == "y" else 1)
        year, month = divmod(now.month - 1 + months, 12)
        later_year, later_month = now.year + year, month + 1
        day = min(now.day, calendar.monthrange(later_year, later_month)[1])
        # Go's AddDate normalises an overflowing day into the next month instead of clamping.
        overflow = now.day - day
        later = now.replace(year=later_year, month=later_month, day=day)
        return later + timedelta(days=overflow) - now
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"error parsing interval {text}")
    return timedelta(seconds=sum(float(n) * _GO_DURATION_UNITS[u] for n, u in parts))


def auto_interval_ms(
    span: timedelta, *, max_data_points: int = 1000, min_interval_ms: int = 10_000
) -> int:
    """The browser's `$__interval_ms` for a panel: the range over its points, rounded by Grafana's
    table, never below the data source's `timeInterval` (10 s, the agents' sampling period)."""
    raw = span.total_seconds() * 1000 / max_data_points
    rounded = next(
        (value for below, value in _ROUNDING_MS if raw < below), 31_536_000_000
    )
    return max(rounded, min_interval_ms)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format(value: VariableValue, fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt == "sqlstring":
        return ",".join(
            "'" + v.replace("'", "''").replace('"', '\\"') + "'" for v in values
        )
    if fmt in ("raw", "csv"):
        return ",".join(values)
    if fmt is not None:
        raise ValueError(f"format {fmt!r} is not used by these dashboards")
    # The PostgreSQL data source's interpolateVariable (Grafana >= 12.2.3): a single string with
    # its quotes doubled, unquoted; a list quoted value by value.
    if isinstance(value, list):
        return ",".join(_quote(v) for v in value)
    return value.replace("'", "''")


def interpolate_variables(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """The browser's step: replace the variables it knows; leave every other `$name` as it is."""

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[4]
        fmt = match[3] or match[6]
        if name not in variables:
            return match[0]
        return _format(variables[name], fmt)

    return _VARIABLE.sub(replace, sql)


def _group(args: list[str], *, timescaledb: bool, epoch: bool) -> str:
    if len(args) < 2:
        raise ValueError(
            "macro __timeGroup needs time column and interval and optional fill value"
        )
    try:
        seconds = parse_interval(args[1].strip("'")).total_seconds()
    except ValueError as exc:
        raise ValueError(f"error parsing interval {args[1]}") from exc
    if len(args) == 3 and args[2] not in ("NULL", "previous"):
        try:
            float(args[2])
        except ValueError as exc:
            raise ValueError(f"error parsing fill value {args[2]}") from exc
    if epoch:
        return f"floor(({args[0]})/{go_float(seconds)})*{go_float(seconds)}"
    if timescaledb:
        return f"time_bucket('{seconds:.3f}s',{args[0]})"
    return (
        f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"
    )


def expand_macros(
    sql: str, *, start: datetime, end: datetime, timescaledb: bool = True
) -> str:
    """The backend's PostgreSQL macro engine (macros.go), `timescaledb` as in the data source."""
    frm, to = rfc3339(start), rfc3339(end)
    epoch_from, epoch_to = _epoch_s(start), _epoch_s(end)
    first_group = sql.find("$__timeGroup(")
    if first_group >= 0:
        # Before 5.3, `$__timeGroup(...),` meant the alias form; Grafana still reads it so.
        close = sql.find(")", first_group)
        if close >= 0 and sql[close + 1 : close + 2] == ",":
            sql = sql[:first_group] + "$__timeGroupAlias" + sql[first_group + 12 :]

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        args = [a.strip(" ") for a in match[2].split(",")]
        alias = ' AS "time"'
        if name == "__time":
            return f"{args[0]}{alias}"
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "__timeFrom":
            return f"'{frm}'"
        if name == "__timeTo":
            return f"'{to}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            group = _group(args, timescaledb=timescaledb, epoch=False)
            return group + (alias if name.endswith("Alias") else "")
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            group = _group(args, timescaledb=timescaledb, epoch=True)
            return group + (alias if name.endswith("Alias") else "")
        if name == "__unixEpochFilter":
            return f"{args[0]} >= {epoch_from} AND {args[0]} <= {epoch_to}"
        if name == "__unixEpochNanoFilter":
            return f"{args[0]} >= {_epoch_ns(start)} AND {args[0]} <= {_epoch_ns(end)}"
        if name == "__unixEpochNanoFrom":
            return str(_epoch_ns(start))
        if name == "__unixEpochNanoTo":
            return str(_epoch_ns(end))
        if name in ("__unixEpochFrom", "__unixEpochTo"):
            return str(epoch_from if name.endswith("From") else epoch_to)
        raise ValueError(f"unknown macro {name!r}")

    return _MACRO.sub(replace, sql)


def _epoch_s(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _epoch_ns(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def expand(
    sql: str,
    *,
    variables: Mapping[str, VariableValue],
    time_range: Range,
    interval_ms: int | None = None,
) -> str:
    """A panel's SQL as Grafana runs it: variables, `$__interval(_ms)`, then the macros."""
    if interval_ms is None:
        interval_ms = auto_interval_ms(time_range.end - time_range.start)
    scoped: dict[str, VariableValue] = {
        **variables,
        "__interval": format_interval(interval_ms),
        "__interval_ms": str(interval_ms),
    }
    sql = interpolate_variables(sql, scoped)
    # The backend's global step: the same names again (already gone in a dashboard's query).
    sql = sql.replace("$__interval_ms", str(interval_ms))
    sql = sql.replace("$__interval", format_interval(interval_ms))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch_s(time_range.start)))
    sql = sql.replace("$__unixEpochTo()", str(_epoch_s(time_range.end)))
    return expand_macros(sql, start=time_range.start, end=time_range.end)
