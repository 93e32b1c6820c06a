"""The trial charts' geometry and words (web/charts.py, web/axes.py), without a database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from livinglab_platform.core.formatting import Formats
from livinglab_platform.core.local_time import start_of_day
from livinglab_platform.data.schemas import Interval
from livinglab_platform.registry.schemas import SensorPublic
from livinglab_platform.web import charts
from livinglab_platform.web.axes import time_ticks, value_scale, zone_names
from livinglab_platform.web.charts import Bucket, Frame, draw, frame

SL, EN = Formats("sl"), Formats("en")
TEXTS = {
    "low": "najmanj",
    "high": "največ",
    "zone": "čas v Ljubljani ({zone})",
    "assigned": "dodeljena: {start} – {end}",  # noqa: RUF001
}
END = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def _sensor(quantity="air_pressure", unit="hPa"):
    return SensorPublic.model_validate(
        {"id": 1, "key": quantity, "quantity": quantity, "unit": unit}
    )


def test_a_steady_pressure_is_drawn_flat_not_as_a_cliff():
    scale = value_scale(986.55, 986.65, resolution=2.0, formats=SL)
    # At least 4 resolutions (8 hPa) and 1 % of the value (9.9 hPa) tall.
    assert scale.high - scale.low >= 9.8
    assert scale.low <= 986.55
    assert scale.high >= 986.65
    assert all("." not in label for _, label in scale.ticks)


def test_value_labels_use_the_languages_decimal_mark():
    sl = [
        label for _, label in value_scale(0.1, 0.4, resolution=0.05, formats=SL).ticks
    ]
    en = [
        label for _, label in value_scale(0.1, 0.4, resolution=0.05, formats=EN).ticks
    ]
    assert sl[:2] == ["0,1", "0,2"]
    assert en[:2] == ["0.1", "0.2"]


def test_a_days_ticks_are_round_ljubljana_hours_and_midnight_names_its_day():
    ticks = time_ticks(END - timedelta(hours=24), END, formats=SL)
    labels = [label for _, label in ticks]
    assert labels == ["18:00", "5. 12.", "06:00", "12:00"]
    assert ticks[1][0] == start_of_day(date(2026, 12, 5))
    week = time_ticks(END - timedelta(days=7), END, formats=EN)
    assert week[0][1] == "29 Nov"


def test_the_zone_is_named_and_both_across_a_change():
    assert zone_names(END - timedelta(hours=24), END) == "CET"
    spring = datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert zone_names(spring - timedelta(days=1), spring) == "CET/CEST"


def test_the_trials_period_runs_from_its_first_local_midnight_to_now():
    trial = SimpleNamespace(starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31))
    shown = frame(trial, "trial", now=END)  # type: ignore[arg-type]
    assert shown.start == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert shown.end == END
    assert shown.interval is Interval.h6
    assert frame(trial, "24h", now=END).interval is Interval.m5  # type: ignore[arg-type]
    assert frame(trial, "nonsense", now=END).start == END - timedelta(hours=24)  # type: ignore[arg-type]


def test_a_chart_breaks_at_missing_buckets_and_names_unit_zone_and_values():
    shown = Frame(start=END - timedelta(hours=24), end=END, interval=Interval.m5)
    buckets = [
        Bucket(END - timedelta(minutes=5 * m), 986.6, 986.5, 986.7)
        for m in range(288, 0, -1)
        if not 100 <= m < 120  # 100 minutes without a reading
    ]
    chart = draw(
        "tp-air-01",
        _sensor(unit="hPa"),
        buckets,
        frame=shown,
        periods=[(END - timedelta(days=3), END + timedelta(days=3))],
        formats=SL,
        texts=TEXTS,
    )
    assert chart.line.count("M") == 2
    assert chart.band.count("Z") == 2
    assert chart.label == "zračni tlak"
    assert chart.unit == "hPa"
    assert chart.last == "986,6"
    assert chart.zone == "čas v Ljubljani (CET)"
    assert len(chart.hovers) == len(buckets)
    assert re.fullmatch(
        r"\d+\. 12\. 2026 \d\d:\d\d \(CET\): 986,6 hPa \(najmanj 986,5, največ 986,7\)",
        chart.hovers[0][2],
    )
    # The assignment covers the whole range: one shaded period across the plot.
    ((x, width, _),) = chart.periods
    assert x == charts.LEFT
    assert round(x + width) == charts.WIDTH - charts.RIGHT
    # The flat line sits mid-axis, far from both edges.
    ys = [float(y) for y in re.findall(r"[ML][\d.]+ ([\d.]+)", chart.line)]
    plot = (charts.TOP, charts.HEIGHT - charts.BOTTOM)
    assert all(plot[0] + 20 < y < plot[1] - 20 for y in ys)


def test_units_as_people_write_them_and_a_lone_bucket_is_a_dot():
    shown = Frame(start=END - timedelta(hours=24), end=END, interval=Interval.m5)
    chart = draw(
        "fe-pm-01",
        _sensor("pm2_5", "ug/m3"),
        [Bucket(END - timedelta(hours=1), 12.0, 11.0, 13.0)],
        frame=shown,
        periods=[],
        formats=EN,
        texts=TEXTS,
    )
    assert chart.unit == "µg/m³"
    assert chart.label == "PM2.5 particles"
    assert chart.line.endswith("h0.1")
    empty = draw(
        "fe-pm-01",
        _sensor("pm2_5", "ug/m3"),
        [],
        frame=shown,
        periods=[],
        formats=EN,
        texts=TEXTS,
    )
    assert (empty.count, empty.line, empty.last) == (0, "", "—")
