"""The expander against REFERENCE.md §2.5's vectors (from Grafana's macros_test.go) and §2.9."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from livinglab_lab.dashboards.expand import (
    Range,
    auto_interval_ms,
    expand,
    expand_macros,
    format_interval,
    go_float,
    interpolate_variables,
    rfc3339,
)

F = datetime(2018, 4, 12, 18, tzinfo=UTC)
T = F + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("sql", "timescaledb", "expected"),
    [
        (
            "$__timeGroup(time_column,'5m'), value",
            False,
            'floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "$__timeGroup(time_column,'12d')",
            True,
            "time_bucket('1036800.000s',time_column)",
        ),
        ("$__timeGroup(time_column,'20ms')", True, "time_bucket('0.020s',time_column)"),
        (
            "$__timeGroup(t,'12d')",
            False,
            "floor(extract(epoch from t)/1.0368e+06)*1.0368e+06",
        ),
        (
            "$__unixEpochGroup(time_column+time_adjustment,'5m')",
            True,
            "floor((time_column+time_adjustment)/300)*300",
        ),
        (
            "$__unixEpochGroup(time_column+time_adjustment,'5m')",
            False,
            "floor((time_column+time_adjustment)/300)*300",
        ),
        (
            "$__timeFilter(time)",
            True,
            "time BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("$__time(t)", True, 't AS "time"'),
        ("$__timeEpoch(t)", True, 'extract(epoch from t) as "time"'),
        ("$__unixEpochFilter(t)", True, "t >= 1523556000 AND t <= 1523556300"),
    ],
)
def test_macros_expand_as_grafana_does(sql, timescaledb, expected):
    assert expand_macros(sql, start=F, end=T, timescaledb=timescaledb) == expected


def test_an_unknown_macro_fails_the_query():
    with pytest.raises(ValueError, match="unknown macro"):
        expand_macros("$__nothing(t)", start=F, end=T)
    with pytest.raises(ValueError, match="needs time column"):
        expand_macros("$__timeGroup(t)", start=F, end=T)


def test_formats():
    assert [go_float(x) for x in (300, 0.02, 86400, 999999, 0.0001, 1234567, 0.00001)] == [
        "300", "0.02", "86400", "999999", "0.0001", "1.234567e+06", "1e-05",
    ]  # fmt: skip
    assert [format_interval(ms) for ms in (500, 20_000, 90_000, 7_200_000, 86_400_000)] == [
        "500ms", "20s", "1m", "2h", "1d",
    ]  # fmt: skip
    assert format_interval(365 * 86_400_000) == "1y"
    assert (
        rfc3339(datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC))
        == "1960-02-01T07:00:00.5Z"
    )
    assert (
        rfc3339(datetime(2024, 5, 1, 1, 0, 0, 123_000, tzinfo=UTC))
        == "2024-05-01T01:00:00.123Z"
    )
    assert auto_interval_ms(timedelta(hours=1)) == 10_000
    assert auto_interval_ms(timedelta(days=365)) == 21_600_000


def test_variables_by_format():
    variables = {"device": "o'brien", "many": ["dev-01", "dev-02"]}
    assert interpolate_variables("= ${device:sqlstring}", variables) == "= 'o''brien'"
    assert interpolate_variables("IN ($many)", variables) == "IN ('dev-01','dev-02')"
    assert (
        interpolate_variables("IN (${many:sqlstring})", variables)
        == "IN ('dev-01','dev-02')"
    )
    assert interpolate_variables(
        "= '$device' $device_id $__timeFilter(t)", variables
    ) == ("= 'o''brien' $device_id $__timeFilter(t)")


def test_the_reference_query_of_section_2_9():
    sql = (
        "SELECT $__timeGroupAlias(time, $__interval), device_id AS metric, avg(value) AS value\n"
        "FROM readings WHERE $__timeFilter(time) AND metric = 'temperature' AND device_id IN ($device)\n"
        "GROUP BY 1, 2 ORDER BY 1"
    )
    span = Range(
        datetime(2024, 5, 1, tzinfo=UTC),
        datetime(2024, 5, 1, 1, 0, 0, 123_000, tzinfo=UTC),
    )
    assert expand(
        sql,
        variables={"device": ["dev-01", "dev-02"]},
        time_range=span,
        interval_ms=300_000,
    ) == (
        "SELECT time_bucket('300.000s',time) AS \"time\", device_id AS metric, avg(value) AS value\n"
        "FROM readings WHERE time BETWEEN '2024-05-01T00:00:00Z' AND '2024-05-01T01:00:00.123Z'"
        " AND metric = 'temperature' AND device_id IN ('dev-01','dev-02')\n"
        "GROUP BY 1, 2 ORDER BY 1"
    )
