"""The five dashboards: titles and descriptions in Slovenian, panel descriptions in English.

Every query reads what livinglab_readonly may read (migrations 009 and 012): a viewer's cells,
counts, the registry, device status, the delivery ledger, ingest statistics, their hours and the
governance views.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common, dashboard, geomap, table
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, GridPos

from livinglab_lab.dashboards.ledger import INGEST_ROWS, LEDGER_GAPS, ledger_spans
from livinglab_lab.dashboards.panels import (
    DATASOURCE,
    HOURS_FROM_MS,
    TAG,
    cells,
    links,
    sql_target,
    stat_panel,
    table_panel,
    timeseries_panel,
    variable,
)
from livinglab_platform.core.quantities import QUANTITIES

__all__ = ["BOARDS", "TRIAL_TRANSITIONS"]


def _board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .timezone("Europe/Ljubljana")
        .time("now-24h", "now")
        .refresh("1m")
        .editable()
    )
    for link in links():
        board = board.link(link)
    return board


def overview() -> dashboard.Dashboard:
    board = _board(
        "livinglab-overview",
        "Živi laboratorij: pregled",
        "Lokacije, naprave na zvezi, pretok meritev, dejavni poskusi in popolnost dostave.",
    )
    sites = (
        geomap.Panel()
        .title("Lokacije")
        .description("Pilot sites with the number of their active devices.")
        .datasource(DATASOURCE)
        .grid_pos(_pos(0, 0, 12, 10))
        # Ljubljana's centre. The 11.6 build types lat/lon as int (its schema says number).
        .view(geomap.MapViewConfig().id("coords").lat(46.05).lon(14.51).zoom(12))  # type: ignore[arg-type]
        .layers([common.MapLayerOptions().type("markers").name("Lokacije")])
        .with_target(
            sql_target(
                """
SELECT s.id AS site, s.name, s.latitude, s.longitude, count(d.id) AS devices
  FROM sites s LEFT JOIN devices d ON d.site_id = s.id AND d.revoked_at IS NULL
 WHERE s.latitude IS NOT NULL AND s.longitude IS NOT NULL
 GROUP BY s.id ORDER BY s.id""",
                table_format=True,
            )
        )
    )
    return (
        board.with_panel(sites)
        .with_panel(
            stat_panel(
                "Naprave",
                "Devices on line (heard in the last 5 minutes), silent (on line but not heard"
                " for 5 minutes) and off line (said goodbye, or never heard).",
                """
SELECT count(*) FILTER (WHERE st.online AND st.last_seen >= now() - interval '5 minutes') AS "na zvezi",
       count(*) FILTER (WHERE st.online AND st.last_seen < now() - interval '5 minutes') AS "tihe",
       count(*) FILTER (WHERE st.online IS NOT TRUE) AS "brez povezave"
  FROM devices d LEFT JOIN device_status st ON st.device_id = d.id
 WHERE d.enabled AND d.revoked_at IS NULL""",
                pos=(12, 0, 12, 5),
            )
        )
        .with_panel(
            table_panel(
                "Dejavni poskusi po stanju",
                "Trials approved and not yet completed, by state.",
                """
SELECT state AS "stanje", count(*) AS "poskusi" FROM trials
 WHERE state IN ('approved', 'deploying', 'running', 'evaluating')
 GROUP BY state ORDER BY state""",
                pos=(12, 5, 6, 5),
            )
        )
        .with_panel(
            table_panel(
                "Popolnost dostave po lokacijah",
                "Batches received in the range over the span of their sequence numbers, per site"
                " (from the ledger's hours on long ranges).",
                f"""
SELECT s.name AS "lokacija", sum(c.received)::float8 / sum(c.span) AS "popolnost"
  FROM devices d JOIN sites s ON s.id = d.site_id
 CROSS JOIN LATERAL (
       SELECT sum(received) AS received, max(last_seq) - min(first_seq) + 1 AS span
         FROM ({ledger_spans("d.id")}) l) c
 WHERE c.received > 0
 GROUP BY s.name ORDER BY s.name""",
                pos=(18, 5, 6, 5),
            ).unit("percentunit")
        )
        .with_panel(
            timeseries_panel(
                "Meritve na minuto",
                "Readings stored per minute, all devices: minute counts on short ranges,"
                " hour counts from an interval of 30 minutes up.",
                f"""
SELECT $__timeGroupAlias(bucket, $__interval),
       sum(count) / (greatest($__interval_ms, 60000) / 60000.0) AS "meritve na minuto"
  FROM (SELECT bucket, count FROM reading_counts_1m
         WHERE $__interval_ms < {HOURS_FROM_MS} AND $__timeFilter(bucket)
        UNION ALL
        SELECT bucket, count FROM reading_counts_1h
         WHERE $__interval_ms >= {HOURS_FROM_MS} AND $__timeFilter(bucket)) c
 GROUP BY 1 ORDER BY 1""",
                pos=(0, 10, 24, 8),
                unit="short",
            )
        )
    )


def _quantity_sql(quantity: str) -> str:
    sensors = (
        "SELECT id FROM sensors WHERE device_id = ${device:sqlstring}"
        f" AND key IN (${{sensor:sqlstring}}) AND quantity = '{quantity}'"
    )
    return f"""
SELECT $__timeGroupAlias(c.bucket, $__interval), s.key AS metric,
       sum(c.sum) / sum(c.count) AS "povprečje", min(c.min) AS "najmanj", max(c.max) AS "največ"
  FROM ({cells(sensors)}) c
  JOIN sensors s ON s.id = c.sensor_id
 GROUP BY 1, 2 ORDER BY 1, 2"""


def site_device() -> dashboard.Dashboard:
    board = (
        _board(
            "livinglab-site-device",
            "Živi laboratorij: lokacija in naprava",
            "Meritve izbrane naprave (povprečje, najmanj in največ) in njeno stanje: kdaj je bila"
            " nazadnje slišana, čakalna vrsta, ura, popolnost dostave in vrzeli.",
        )
        .with_variable(
            variable(
                "site",
                "Lokacija",
                "SELECT id AS __value, name AS __text FROM sites ORDER BY name",
            )
        )
        .with_variable(
            variable(
                "device",
                "Naprava",
                "SELECT id FROM devices WHERE site_id = ${site:sqlstring} AND revoked_at IS NULL ORDER BY id",
            )
        )
        .with_variable(
            variable(
                "sensor",
                "Senzor",
                "SELECT key FROM sensors WHERE device_id = ${device:sqlstring} ORDER BY key",
                multi=True,
            )
        )
    )
    status = [
        (
            "Nazadnje slišana",
            "The device's last heartbeat.",
            "last_seen",
            "dateTimeFromNow",
        ),
        (
            "Čakalna vrsta",
            "Readings waiting in the device's outbox.",
            "outbox_depth",
            "short",
        ),
        (
            "Odmik ure",
            "The device clock's offset from the broker's time; empty when not synchronised.",
            "CASE WHEN clock_synced THEN clock_offset_ns / 1e6 END",
            "ms",
        ),
    ]
    for i, (title, description, column, unit) in enumerate(status):
        board = board.with_panel(
            stat_panel(
                title,
                description,
                f'SELECT {column} AS "{title.lower()}" FROM device_status WHERE device_id = ${{device:sqlstring}}',
                pos=(i * 6, 0, 6, 4),
                unit=unit,
            )
        )
    board = board.with_panel(
        stat_panel(
            "Popolnost dostave",
            "Batches received in the range over the span of their sequence numbers (from the"
            " ledger's hours on long ranges).",
            f"""
SELECT sum(received)::float8 / (max(last_seq) - min(first_seq) + 1) AS "popolnost"
  FROM ({ledger_spans("${device:sqlstring}")}) l""",
            pos=(18, 0, 6, 4),
            unit="percentunit",
        )
    )
    for i, (key, q) in enumerate(QUANTITIES.items()):
        limits = "; ".join(
            f"{lim.kind} {lim.value:g} {q.unit} ({lim.averaging}): {lim.source}"
            for lim in q.limits
        )
        board = board.with_panel(
            timeseries_panel(
                _first_upper(q.label["sl"]),
                f"{_first_upper(q.label['en'])} of the chosen sensors: mean with the lowest and"
                " highest reading of each bucket, from one-minute cells of at least 5 readings (or"
                " their hours on long ranges)."
                + (f" Thresholds: {limits}." if limits else ""),
                _quantity_sql(key),
                pos=((i % 2) * 12, 4 + (i // 2) * 8, 12, 8),
                quantity=key,
            )
        )
    return board.with_panel(
        table_panel(
            "Vrzeli v dostavi",
            "Missing batch sequence numbers between the batches received in the range, newest first"
            " (on long ranges found through the ledger's hours).",
            LEDGER_GAPS,
            pos=(0, 36, 24, 6),
        )
    )


# The trial's lifecycle: a table panel and the dashboard's annotations (build.py sets it as the
# annotation's target, which the SDK's AnnotationTarget cannot hold).
TRIAL_TRANSITIONS = """
SELECT time, action AS text, coalesce(reason, '') AS reason FROM trial_transitions
 WHERE trial_id = ${trial:sqlstring}::integer AND $__timeFilter(time) ORDER BY time"""

_TRIAL_SENSORS = (
    "SELECT s.id FROM sensors s JOIN trial_devices td ON td.device_id = s.device_id"
    " WHERE td.trial_id = ${trial:sqlstring}::integer"
)


def trial() -> dashboard.Dashboard:
    # A cell counts only when it lies wholly inside one of the trial's assignment periods.
    inside = (
        " AND EXISTS (SELECT 1 FROM trial_devices td JOIN sensors s ON s.device_id = td.device_id"
        " WHERE td.trial_id = ${trial:sqlstring}::integer AND s.id = sensor_id"
        " AND bucket >= td.starts_at AND bucket + interval '{width}' <= td.ends_at)"
    )
    board = (
        _board(
            "livinglab-trial",
            "Živi laboratorij: poskus",
            "Meritve naprav poskusa samo znotraj obdobij, ko so delale zanj, in zgodovina"
            " stanj poskusa kot oznake.",
        )
        .with_variable(
            variable(
                "trial",
                "Poskus",
                "SELECT id AS __value, id || ': ' || title AS __text FROM trials"
                " WHERE state <> 'draft' ORDER BY id",
            )
        )
        .annotation(
            dashboard.AnnotationQuery()
            .name("Stanja poskusa")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("purple")
        )
    )
    return (
        board.with_panel(
            timeseries_panel(
                "Meritve poskusa",
                "Mean of each sensor of the trial's devices, only inside the periods each device"
                " was assigned to the trial (whole one-minute cells of at least 5 readings).",
                f"""
SELECT $__timeGroupAlias(c.bucket, $__interval), s.device_id || ' ' || s.key AS metric,
       sum(c.sum) / sum(c.count) AS "povprečje"
  FROM ({cells(_TRIAL_SENSORS, extra_where=inside)}) c
  JOIN sensors s ON s.id = c.sensor_id
 GROUP BY 1, 2 ORDER BY 1, 2""",
                pos=(0, 0, 24, 10),
            )
        )
        .with_panel(
            table_panel(
                "Naprave poskusa",
                "The trial's devices and the periods they work for it.",
                """
SELECT td.device_id AS "naprava", d.site_id AS "lokacija", td.starts_at AS "od", td.ends_at AS "do"
  FROM trial_devices td JOIN devices d ON d.id = td.device_id
 WHERE td.trial_id = ${trial:sqlstring}::integer ORDER BY td.starts_at, td.device_id""",
                pos=(0, 10, 12, 8),
            )
        )
        .with_panel(
            table_panel(
                "Zgodovina stanj",
                "The trial's lifecycle actions in the range (also shown as annotations).",
                TRIAL_TRANSITIONS,
                pos=(12, 10, 12, 8),
            )
        )
    )


def ingest() -> dashboard.Dashboard:
    board = _board(
        "livinglab-ingest",
        "Živi laboratorij: sprejem meritev",
        "Pretok, zamik med objavo in zapisom, velikost paketov, čakalna vrsta in karantena"
        " sprejemne storitve.",
    )
    series = [
        ("Meritve na sekundo", "Readings stored per second, all instances.", "sum(readings) / sum(interval_s)", "short"),
        ("Zamik objava → zapis", "Mean of the intervals' lags from the device's publish to the commit, and the worst.", 'sum(lag_s_sum) / nullif(sum(lag_rows), 0) AS "povprečje", max(lag_s_max)', "s"),
        ("Velikost paketa", "Readings per stored batch.", "sum(readings)::float8 / nullif(sum(batches), 0)", "short"),
        ("Čakalna vrsta", "Messages waiting for the writer (largest in the bucket).", "max(queue_depth_max)", "short"),
        ("Podvojeni paketi", "Batches dropped as already stored, per second.", "sum(duplicates) / sum(interval_s)", "short"),
        ("Trajanje transakcij pisalnikov", "How long the writers' transactions took, BEGIN to COMMIT: the intervals' medians (mean weighted by transactions), the worst interval's 95th percentile and the longest. Orange from 250 ms, red from 1 s: a writer then commits fewer than 4 groups a second and messages queue up.", 'sum(txn_ms_p50_sum) / nullif(sum(txns), 0) AS "mediana", max(txn_ms_p95_max) AS "p95", max(txn_ms_max)', "ms"),
    ]  # fmt: skip
    for i, (title, description, value, unit) in enumerate(series):
        board = board.with_panel(
            timeseries_panel(
                title,
                description + " From ingest_stats, or its hours on long ranges.",
                f"""
SELECT $__timeGroupAlias(time, $__interval), {value} AS "{title.lower()}"
  FROM ({INGEST_ROWS}) s
 GROUP BY 1 ORDER BY 1""",
                pos=((i % 2) * 12, (i // 2) * 8, 12, 8),
                unit=unit,
                thresholds=(250, 1000) if unit == "ms" else None,
            )
        )
    return board.with_panel(
        timeseries_panel(
            "Karantena po razlogih",
            "Payloads quarantined, by reason (the payloads themselves are not readable here).",
            """
SELECT $__timeGroupAlias(received_at, $__interval), reason AS metric, count(*) AS "paketi"
  FROM quarantine_reasons WHERE $__timeFilter(received_at) GROUP BY 1, 2 ORDER BY 1, 2""",
            pos=(0, 24, 24, 8),
            unit="short",
        )
    )


def governance() -> dashboard.Dashboard:
    board = _board(
        "livinglab-governance",
        "Živi laboratorij: upravljanje",
        "Letni kazalniki strategije s cilji in oceno, prijave po letih in stanjih, mejnik"
        " delujoč živi laboratorij.",
    ).with_variable(
        variable(
            "year",
            "Leto",
            "SELECT DISTINCT year FROM governance_indicators ORDER BY year DESC",
        )
    )
    return (
        board.with_panel(
            table_panel(
                "Kazalniki",
                "The strategy's yearly indicators, their targets and whether they are met"
                " (GOVERNANCE.md). The sixth, the working living lab, is the milestone panel below.",
                """
SELECT name_sl AS "kazalnik", value AS "vrednost", target AS "cilj",
       CASE WHEN met THEN 'doseženo' ELSE 'ni doseženo' END AS "stanje"
  FROM governance_indicators WHERE year = ${year:sqlstring}::integer ORDER BY position""",
                pos=(0, 0, 16, 8),
            )
        )
        .with_panel(
            table_panel(
                "Ocena po letih",
                "The verdict of each year over the five indicators above.",
                'SELECT year AS "leto", met AS "doseženih", indicators AS "kazalnikov", verdict AS "ocena"'
                " FROM governance_verdicts ORDER BY year DESC",
                pos=(16, 0, 8, 8),
            )
        )
        .with_panel(
            table_panel(
                "Prijave po letih in stanjih",
                "Co-financed project applications by the year and status of their history's entries.",
                'SELECT year AS "leto", status AS "stanje", applications AS "prijave"'
                " FROM application_status_years ORDER BY year DESC, status",
                pos=(0, 8, 24, 8),
            )
        )
        .with_panel(_milestone())
    )


# The milestone as of the selected year's last day, or today so far for the current year, as the
# platform's yearly report judges it (indicators.py). The rule is milestone_checklist()'s
# (migration 013), the one the API, the CLI, the web pages and the report read.
# The function answers in the API's English ("business, public", ">= 1 site", "99.95%"); city
# staff read Slovenian, so the panel words the same numbers and sectors in Slovenian here (only the
# wording: the numbers and the verdict are the function's).
MILESTONE = """
SELECT name_sl AS "merilo", CASE WHEN met THEN '✓' ELSE '✗' END AS "izpolnjeno",
       CASE key
         WHEN 'multi_stakeholder' THEN replace(replace(replace(replace(replace(value,
              'none', 'noben'), 'public', 'javni'), 'research', 'raziskovalni'),
              'business', 'gospodarski'), 'society', 'civilna družba')
         WHEN 'data_you_can_trust' THEN replace(replace(replace(value,
              'no deliveries', 'ni dostav'), '.', ','), '%', ' %')
         ELSE value
       END AS "vrednost",
       CASE key
         WHEN 'multi_stakeholder' THEN 'vsi štirje sektorji'
         WHEN 'data_you_can_trust'
           THEN '≥ ' || replace(substring(threshold FROM '[0-9.]+'), '.', ',') || ' %'
         ELSE '≥ ' || substring(threshold FROM '[0-9]+') || CASE key
                WHEN 'operator' THEN ' oseba z vlogo upravljavca'
                WHEN 'real_life_setting' THEN ' lokacija'
                WHEN 'experimentation' THEN ' zaključen poskus'
                ELSE ' partnerstvo' END
       END AS "prag"
  FROM milestone_checklist(least(make_date(${year:sqlstring}::integer, 12, 31),
                                 (now() AT TIME ZONE 'Europe/Ljubljana')::date))
 ORDER BY position"""


def _milestone() -> table.Panel:
    met = {"✓": ("green", 0), "✗": ("red", 1)}
    return table_panel(
        "Mejnik: delujoč živi laboratorij",
        'The milestone "a working living lab" (GOVERNANCE.md) as of the selected year\'s last'
        " day, or today so far for the current year: each criterion's value, its threshold and"
        " whether it is met, by the rule the platform's API, CLI, pages and report use"
        " (milestone_checklist, migration 013). Windows are whole Ljubljana days. Sources: MOL's"
        ' digital strategy (the two partnerships); EIT Urban Mobility, "Upscaling living lab'
        ' activities" (a named operator); ENoLL, "What are living labs" (real-life setting);'
        " ENoLL, experimentation and evaluation (a trial completed in 12 months); ENoLL"
        " harmonized KPIs (all four helix sectors); fablabbcn/smartcitizen-api #238 (delivery"
        " completeness over 30 days).",
        MILESTONE,
        pos=(0, 16, 24, 9),
    ).override_by_name(
        "izpolnjeno",
        [
            DynamicConfigValue(
                id_val="mappings",
                value=[
                    {
                        "type": "value",
                        "options": {
                            mark: {"text": mark, "color": colour, "index": index}
                            for mark, (colour, index) in met.items()
                        },
                    }
                ],
            ),
            DynamicConfigValue(
                id_val="custom.cellOptions", value={"type": "color-background"}
            ),
            DynamicConfigValue(id_val="custom.width", value=110),
        ],
    )


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pos(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(x=x, y=y, w=w, h=h)


BOARDS = {
    "livinglab-overview": overview,
    "livinglab-site-device": site_device,
    "livinglab-trial": trial,
    "livinglab-ingest": ingest,
    "livinglab-governance": governance,
}
