"""What every dashboard shares: the data source, the SQL query type grafana-foundation-sdk lacks,
the viewer's cells chosen by `$__interval_ms`, and panel builders with units and limits from the
one table of quantities (`livinglab_platform.core.quantities`).
"""

from __future__ import annotations

from typing import Any, Self

from grafana_foundation_sdk.builders import common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.cog import builder, runtime, variants
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    DynamicConfigValue,
    GridPos,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
)

from livinglab_platform.core.quantities import QUANTITIES, Limit

__all__ = [
    "DATASOURCE",
    "HOURS_FROM_MS",
    "SqlQuery",
    "cells",
    "links",
    "sql_target",
    "stat_panel",
    "table_panel",
    "threshold_steps",
    "timeseries_panel",
    "variable",
]

# Fixed names the provisioning and `livinglab dashboards push` rely on.
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "livinglab-timescaledb"
DATASOURCE = DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)
TAG = "livinglab"

# Below an interval of 30 minutes the viewer's one-minute cells, from 30 minutes up the viewer's
# hours: a year's panel (interval 6 h at 1,000 points) reads 8,760 rows per sensor, not 525,600,
# and 30 days (interval 30 min) 720, not 43,200: hourly points where Grafana asked for half-hourly
# ones. `livinglab bench dashboards` measured 30 days of minutes at 280-870 ms a panel.
HOURS_FROM_MS = 1_800_000


class SqlQuery(variants.Dataquery):
    """A target of the PostgreSQL data source: raw SQL in code mode."""

    def __init__(
        self,
        raw_sql: str = "",
        query_format: str = "time_series",
        ref_id: str | None = None,
        datasource: DataSourceRef | None = None,
    ) -> None:
        self.raw_sql = raw_sql
        self.format = query_format
        self.ref_id = ref_id
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rawSql": self.raw_sql,
            "format": self.format,
            "rawQuery": True,
            "editorMode": "code",
        }
        if self.ref_id is not None:
            out["refId"] = self.ref_id
        if self.datasource is not None:
            out["datasource"] = self.datasource.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        ref = data.get("datasource")
        return cls(
            raw_sql=data.get("rawSql", ""),
            query_format=data.get("format", "time_series"),
            ref_id=data.get("refId"),
            datasource=DataSourceRef.from_json(ref) if ref else None,
        )


class SqlQueryBuilder(builder.Builder[SqlQuery]):
    def __init__(self, raw_sql: str, *, query_format: str, ref_id: str) -> None:
        self._internal = SqlQuery(raw_sql, query_format, ref_id, DATASOURCE)

    def build(self) -> SqlQuery:
        return self._internal


runtime.register_dataquery_variant(
    runtime.DataqueryConfig(
        identifier=DATASOURCE_TYPE,
        from_json_hook=SqlQuery.from_json,
    )
)


def sql_target(
    raw_sql: str, *, table_format: bool = False, ref_id: str = "A"
) -> SqlQueryBuilder:
    return SqlQueryBuilder(
        _tidy(raw_sql),
        query_format="table" if table_format else "time_series",
        ref_id=ref_id,
    )


def _tidy(raw_sql: str) -> str:
    return "\n".join(line.rstrip() for line in raw_sql.strip().splitlines())


def cells(sensors: str, *, extra_where: str = "") -> str:
    """A viewer's cells of the sensors whose ids `sensors` (SQL) selects, in the panel's range.

    `extra_where` may name `{width}`, the width of a cell of its branch (`1 minute`, `1 hour`).

    Two branches, each guarded by a constant once `$__interval_ms` is replaced: the planner drops
    the false one before it plans a single chunk, so a year's panel never touches the minutes.
    """
    where = f"sensor_id IN ({sensors}) AND $__timeFilter(bucket){extra_where}"
    minutes, hours = (
        where.replace("{width}", "1 minute"),
        where.replace("{width}", "1 hour"),
    )
    return f"""
    SELECT bucket, sensor_id, count, sum, min, max FROM viewer_cells_1m
     WHERE $__interval_ms < {HOURS_FROM_MS} AND {minutes}
    UNION ALL
    SELECT bucket, sensor_id, count, sum, min, max FROM viewer_hours
     WHERE $__interval_ms >= {HOURS_FROM_MS} AND {hours}"""


def threshold_steps(limits: tuple[Limit, ...]) -> list[Threshold]:
    steps = [Threshold(value=None, color="green")]
    colours = ["orange", "red"]
    for i, limit in enumerate(sorted(limits, key=lambda lim: lim.value)):
        steps.append(Threshold(value=limit.value, color=colours[min(i, 1)]))
    return steps


def _grid(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(x=x, y=y, w=w, h=h)


def timeseries_panel(
    title: str,
    description: str,
    raw_sql: str,
    *,
    pos: tuple[int, int, int, int],
    unit: str | None = None,
    quantity: str | None = None,
    thresholds: tuple[float, float] | None = None,
) -> timeseries.Panel:
    """A time series; `thresholds` (orange, red) draws two dashed lines where no quantity does."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(_grid(*pos))
        .with_target(sql_target(raw_sql))
    )
    if quantity is not None:
        q = QUANTITIES[quantity]
        panel = panel.unit(q.grafana_unit).decimals(q.decimals)
        if q.limits:
            panel = panel.thresholds(
                dashboard.ThresholdsConfig()
                .mode(ThresholdsMode.ABSOLUTE)
                .steps(threshold_steps(q.limits))
            ).thresholds_style(
                common.GraphThresholdsStyleConfig().mode(
                    GraphThresholdsStyleMode.DASHED
                )
            )
        # The bucket's lowest and highest reading, faint around the mean.
        panel = panel.override_by_regexp(
            "/^(najmanj|največ)/",
            [
                DynamicConfigValue(id_val="custom.lineWidth", value=1),
                DynamicConfigValue(
                    id_val="custom.lineStyle", value={"fill": "dash", "dash": [4, 4]}
                ),
                DynamicConfigValue(id_val="custom.fillOpacity", value=0),
            ],
        )
    elif unit is not None:
        panel = panel.unit(unit)
    if thresholds is not None:
        orange, red = thresholds
        panel = panel.thresholds(
            dashboard.ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    Threshold(value=None, color="green"),
                    Threshold(value=orange, color="orange"),
                    Threshold(value=red, color="red"),
                ]
            )
        ).thresholds_style(
            common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    return panel


def stat_panel(
    title: str,
    description: str,
    raw_sql: str,
    *,
    pos: tuple[int, int, int, int],
    unit: str = "none",
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(_grid(*pos))
        .unit(unit)
        .with_target(sql_target(raw_sql, table_format=True))
    )


def table_panel(
    title: str, description: str, raw_sql: str, *, pos: tuple[int, int, int, int]
) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(_grid(*pos))
        .with_target(sql_target(raw_sql, table_format=True))
    )


def variable(
    name: str, label: str, query: str, *, multi: bool = False
) -> dashboard.QueryVariable:
    """A variable from SQL (`__value`, `__text`), refreshed when the dashboard loads."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(_tidy(query))
        .multi(multi)
        .include_all(multi)
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
    )


def links() -> list[dashboard.DashboardLink]:
    """Every livinglab dashboard as a drop-down, keeping the time range and the variables."""
    return [
        dashboard.DashboardLink("Živi laboratorij")
        .type(DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(True)
    ]
