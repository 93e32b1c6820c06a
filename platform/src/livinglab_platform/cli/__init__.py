"""The `livinglab` command: registry, trials, data, and the lab's services, for the operator."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Annotated

import typer

from livinglab_platform.cli import (
    dashboards,
    data,
    delivery,
    governance,
    governance_exchange,
    registry,
    report,
    services,
    trials,
)
from livinglab_platform.cli.terminal import PlatformGroup, show_utc

__all__ = ["app", "main"]

app = typer.Typer(
    help="livinglab: the open platform of Ljubljana's living lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help for every command: typer's rich help panels print each flag as
    # `--help <bool>` (typer 0.29 gives options without a value a type column all the same).
    rich_markup_mode=None,
    cls=PlatformGroup,
)


@app.callback()
def _options(
    utc: Annotated[
        bool,
        typer.Option(
            "--utc", help="Show times in UTC (default: Ljubljana's, zone named)"
        ),
    ] = False,
) -> None:
    show_utc(utc)


app.add_typer(registry.orgs_app, name="orgs")
app.add_typer(registry.people_app, name="people")
app.add_typer(registry.tokens_app, name="tokens")
app.add_typer(registry.sites_app, name="sites")
registry.devices_app.command("show")(delivery.devices_show)
registry.devices_app.command("config")(delivery.devices_config)
app.add_typer(registry.devices_app, name="devices")
app.add_typer(delivery.quarantine_app, name="quarantine")
app.add_typer(trials.trials_app, name="trials")
app.command("export")(data.export)
governance.governance_app.command("import")(governance_exchange.import_record)
governance.governance_app.command("kpi")(governance_exchange.kpi_entities)
app.add_typer(governance.governance_app, name="governance")
app.command("report")(report.report)
app.add_typer(services.db_app, name="db")
app.add_typer(services.broker_app, name="broker")
app.add_typer(dashboards.dashboards_app, name="dashboards")
app.command("ingest")(services.ingest)
app.command("api")(services.api)
# Development tooling (the local lab, the demo, benchmarks) is a distribution of its own that a
# production install leaves out; when it is installed, it adds its commands here.
for _plugin in entry_points(group="livinglab.commands"):
    _plugin.load()(app)


def main() -> None:
    """Entry point: configure logging and run the command (refusals exit with status 2)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app()
