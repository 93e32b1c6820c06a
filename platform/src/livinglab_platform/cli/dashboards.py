"""`livinglab dashboards push`: the data source, folder and dashboards into an existing Grafana."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import console
from livinglab_platform.core.errors import ConfigurationError

__all__ = ["dashboards_app"]

dashboards_app = typer.Typer(help="Grafana dashboards.", no_args_is_help=True)


@dashboards_app.command("push")
def dashboards_push(
    url: Annotated[
        str, typer.Option(help="Grafana's address, e.g. https://grafana.example.si")
    ],
    token: Annotated[
        str,
        typer.Option(
            envvar="GRAFANA_TOKEN",
            help="A service account token (Admin role); better given in GRAFANA_TOKEN",
            show_default=False,
        ),
    ],
    directory: Annotated[
        Path,
        typer.Option("--dir", help="The dashboard JSON files, one dashboard each"),
    ] = Path("dashboards/json"),
    db_url: Annotated[
        str, typer.Option(help="The database as Grafana reaches it, host:port")
    ] = "timescaledb:5432",
    db_name: Annotated[str, typer.Option(help="The database's name")] = "livinglab",
    db_user: Annotated[
        str,
        typer.Option(envvar="GRAFANA_DB_USER", help="A login in livinglab_readonly"),
    ] = "grafana",
    sslmode: Annotated[
        str,
        typer.Option(
            envvar="GRAFANA_DB_SSLMODE",
            help="disable, require, verify-ca or verify-full",
        ),
    ] = "require",
    write_password: Annotated[
        bool,
        typer.Option(
            "--write-password",
            help="Write GRAFANA_DB_PASSWORD into the data source even if nothing else changed",
        ),
    ] = False,
) -> None:
    """Create or update the data source, the folder `livinglab` and every dashboard of --dir
    in Grafana; a second push writes nothing. The database password is read from
    GRAFANA_DB_PASSWORD, never from the command line."""
    from livinglab_platform.grafana.push import (
        connect,
        datasource_model,
        load_dashboards,
        push,
    )

    if sslmode not in {"disable", "require", "verify-ca", "verify-full"}:
        raise typer.BadParameter(f"unknown sslmode {sslmode!r}", param_hint="--sslmode")
    password = os.environ.get("GRAFANA_DB_PASSWORD", "")
    if not password:
        raise ConfigurationError(
            "set GRAFANA_DB_PASSWORD to the password of the data source's database login",
            field="GRAFANA_DB_PASSWORD",
        )
    if not directory.is_dir():
        raise ConfigurationError(f"no folder {directory}", field="dir")
    dashboards = load_dashboards(directory)
    model = datasource_model(
        url=db_url, user=db_user, database=db_name, sslmode=sslmode
    )
    report = push(
        connect(url, token=token),
        dashboards=dashboards,
        datasource=model,
        password=password,
        write_password=write_password,
    )
    for verb, names in (("created", report.created), ("updated", report.updated)):
        for name in names:
            console.print(f"{verb} {name}", highlight=False)
    for uid in report.foreign:
        console.print(
            f"left alone: dashboard {uid} is in the folder but in no file of {directory}",
            highlight=False,
        )
    if report.changed:
        console.print(
            f"pushed to {url}: {len(report.created)} created, {len(report.updated)} updated,"
            f" {len(report.unchanged)} unchanged",
            highlight=False,
        )
    else:
        console.print(
            f"nothing changed: the data source, the folder and {len(dashboards)} dashboard(s)"
            f" in {url} are up to date",
            highlight=False,
        )
