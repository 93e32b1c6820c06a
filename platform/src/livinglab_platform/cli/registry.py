"""`livinglab orgs|people|tokens|sites|devices`: the registry, edited by the operator at the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from livinglab_platform.cli.terminal import (
    Column,
    FormatOption,
    ListFormat,
    console,
    err,
    format_moment,
    operator,
    parse_end,
    print_listing,
    unit_of_work,
)
from livinglab_platform.core.db import Connection
from livinglab_platform.core.dynsec import DynSec
from livinglab_platform.core.errors import NotFoundError
from livinglab_platform.core.quantities import describe
from livinglab_platform.core.settings import BrokerSettings
from livinglab_platform.registry import (
    devices,
    fleet,
    organisations,
    people,
    sites,
    tokens,
)
from livinglab_platform.registry.schemas import (
    DevicePublic,
    Kind,
    OrganisationCreate,
    PersonCreate,
    PersonPublic,
    Role,
    SiteCreate,
    TokenCreate,
    TokenPublic,
)

__all__ = ["devices_app", "orgs_app", "people_app", "sites_app", "tokens_app"]

orgs_app = typer.Typer(
    help="Organisations of the city's digital ecosystem.", no_args_is_help=True
)
people_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="Tokens people sign in to the API and web pages with.", no_args_is_help=True
)
sites_app = typer.Typer(help="Pilot sites.", no_args_is_help=True)
devices_app = typer.Typer(
    help="Devices and their broker credentials.", no_args_is_help=True
)


@orgs_app.command("add")
def orgs_add(
    organisation_id: Annotated[str, typer.Argument(help="Short id, e.g. ul-fe")],
    name: Annotated[str, typer.Option(help="Full name")],
    kind: Annotated[Kind, typer.Option(help="Kind of organisation")],
    description: Annotated[str, typer.Option(help="Free text")] = "",
    website: Annotated[str, typer.Option(help="Web address")] = "",
) -> None:
    """Add an organisation."""
    with unit_of_work() as conn:
        organisation = organisations.create_organisation(
            conn,
            operator(),
            organisation=OrganisationCreate(
                id=organisation_id,
                name=name,
                kind=kind,
                description=description,
                website=website,
            ),
        )
    family = ", MOL family" if organisation.mol_family else ""
    console.print(
        f"organisation {organisation.id} added: {organisation.name} ({organisation.kind.value}{family})"
    )


@orgs_app.command("list")
def orgs_list(output_format: FormatOption = ListFormat.table) -> None:
    """Every organisation; ● marks the MOL family (city administration, its institutions and companies)."""
    with unit_of_work() as conn:
        found = organisations.list_organisations(conn)
    family = sum(1 for o in found if o.mol_family)
    print_listing(
        f"{len(found)} organisation(s), {family} in the MOL family",
        (
            Column("id"),
            Column("name"),
            Column("kind"),
            Column("mol_family", "MOL", show=lambda m: "[blue]●[/]" if m else ""),
        ),
        ((o.id, o.name, o.kind, o.mol_family) for o in found),
        output_format=output_format,
    )


@people_app.command("add")
def people_add(
    org: Annotated[str, typer.Option(help="Organisation id")],
    name: Annotated[str, typer.Option(help="Full name")],
    email: Annotated[str, typer.Option(help="E-mail address; identifies the person")],
    role: Annotated[
        Role,
        typer.Option(
            help="operator: runs the lab; partner: works on the organisation's trials; viewer: watches"
        ),
    ],
) -> None:
    """Add a person to an organisation."""
    with unit_of_work() as conn:
        person = people.create_person(
            conn,
            operator(),
            person=PersonCreate(organisation_id=org, name=name, email=email, role=role),
        )
    console.print(
        f"person {person.id} added: {person.name} <{person.email}>, {person.role.value} at {person.organisation_id}"
    )
    console.print(f"give them a token: livinglab tokens create {person.email}")


@people_app.command("list")
def people_list(
    org: Annotated[
        str | None, typer.Option(help="Only the people of this organisation")
    ] = None,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """Everyone, by name."""
    with unit_of_work() as conn:
        everyone = people.list_people(conn, operator())
    shown = [p for p in everyone if org is None or p.organisation_id == org]
    print_listing(
        f"{len(shown)} person(s)",
        (
            Column("id", right=True),
            Column("name"),
            Column("email", "e-mail"),
            Column("organisation"),
            Column("role"),
        ),
        ((p.id, p.name, p.email, p.organisation_id, p.role) for p in shown),
        output_format=output_format,
    )


def _person(conn: Connection, email: str) -> PersonPublic:
    wanted = email.strip().lower()
    for person in people.list_people(conn, operator()):
        if person.email == wanted:
            return person
    raise NotFoundError(
        f"no person with e-mail {email!r}; add them first with `livinglab people add`"
    )


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="E-mail of the person")],
    name: Annotated[
        str, typer.Option(help="What the token is for, e.g. laptop or grafana")
    ] = "cli",
    expires: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_end,
            metavar="DATE",
            help="Its last day (Ljubljana, included) or the exact date-time it stops working; default: until revoked",
        ),
    ] = None,
) -> None:
    """Create a token for a person and print it once."""
    with unit_of_work() as conn:
        person = _person(conn, email)
        created = tokens.create_token(
            conn,
            operator(),
            person_id=person.id,
            token=TokenCreate(name=name, expires_at=expires),
        )
    until = (
        f"until {format_moment(created.expires_at)}"
        if created.expires_at
        else "until revoked"
    )
    console.print(
        f"token {created.id} ({created.name}) for {person.name} <{person.email}>, valid {until}:"
    )
    # On a line of its own, for copying, or for `| tail -1` in scripts.
    console.print(created.token, highlight=False, soft_wrap=True)
    err.print(
        "[yellow]shown once[/]: the platform keeps only its hash; store it now or create another"
    )


def _token_state(token: TokenPublic, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "valid"


_TOKEN_STYLE = {"revoked": "red", "expired": "red", "valid": "green"}


@tokens_app.command("list")
def tokens_list(
    email: Annotated[str, typer.Argument(help="E-mail of the person")],
    output_format: FormatOption = ListFormat.table,
) -> None:
    """A person's tokens (never the secrets)."""
    with unit_of_work() as conn:
        person = _person(conn, email)
        found = tokens.list_tokens(conn, operator(), person_id=person.id)
    now = datetime.now(UTC)
    print_listing(
        f"tokens of {person.name} <{person.email}>",
        (
            Column("id", right=True),
            Column("name"),
            Column("prefix", show=lambda p: p + "…"),
            Column("created_at", "created"),
            Column("expires_at", "expires"),
            Column("last_used_at", "last used"),
            Column("revoked_at", "revoked"),
            Column("state", show=lambda s: f"[{_TOKEN_STYLE[s]}]{s}[/]"),
        ),
        (
            (
                t.id,
                t.name,
                t.prefix,
                t.created_at,
                t.expires_at,
                t.last_used_at,
                t.revoked_at,
                _token_state(t, now),
            )
            for t in found
        ),
        output_format=output_format,
    )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (from `tokens list`)")],
) -> None:
    """Revoke a token at once."""
    with unit_of_work() as conn:
        token = tokens.revoke_token(conn, operator(), token_id=token_id)
    console.print(
        f"token {token.id} ({token.name}, {token.prefix}…) revoked at {format_moment(token.revoked_at)}"
    )


@sites_app.command("add")
def sites_add(
    site_id: Annotated[str, typer.Argument(help="Short id, e.g. tp-ljubljana")],
    name: Annotated[str, typer.Option(help="Readable name")],
    latitude: Annotated[float | None, typer.Option(help="WGS84 latitude")] = None,
    longitude: Annotated[float | None, typer.Option(help="WGS84 longitude")] = None,
    address: Annotated[str, typer.Option(help="Street address")] = "",
    host_org: Annotated[
        str | None, typer.Option(help="Organisation hosting the site")
    ] = None,
    description: Annotated[str, typer.Option(help="Free text")] = "",
) -> None:
    """Add a pilot site."""
    with unit_of_work() as conn:
        site = sites.create_site(
            conn,
            operator(),
            site=SiteCreate(
                id=site_id,
                name=name,
                latitude=latitude,
                longitude=longitude,
                address=address,
                host_organisation_id=host_org,
                description=description,
            ),
        )
    console.print(f"site {site.id} added")


@sites_app.command("list")
def sites_list(output_format: FormatOption = ListFormat.table) -> None:
    """Every site, by name."""
    with unit_of_work() as conn:
        all_sites = sites.list_sites(conn)
    coordinate = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    print_listing(
        f"{len(all_sites)} site(s)",
        (
            Column("id"),
            Column("name"),
            Column("host"),
            Column("address"),
            Column("latitude", "lat", show=coordinate),
            Column("longitude", "lon", show=coordinate),
        ),
        (
            (s.id, s.name, s.host_organisation_id, s.address, s.latitude, s.longitude)
            for s in all_sites
        ),
        output_format=output_format,
    )


def _print_credentials(*, username: str, client_id: str, password: str) -> None:
    console.print("broker credentials (shown once, store them on the device now):")
    console.print(
        f"  username  = {username}\n  client_id = {client_id}\n  password  = {password}",
        highlight=False,
    )


@devices_app.command("add")
def devices_add(
    device_id: Annotated[
        str, typer.Argument(help="Device id; also its MQTT username and client id")
    ],
    site: Annotated[str, typer.Option(help="Site the device is installed at")],
    sensor: Annotated[
        list[str], typer.Option(help="KEY:QUANTITY:UNIT, repeat for each sensor")
    ],
    org: Annotated[
        str,
        typer.Option(
            help="Organisation that owns the device: its partners see and manage it"
        ),
    ],
    description: Annotated[str | None, typer.Option(help="Free text")] = None,
) -> None:
    """Register a device and its sensors, create its broker client, print its password once.

    `--org` is required: a device of no organisation belongs to nobody, and no partner sees it.
    """
    definitions = [devices.parse_sensor(s) for s in sensor]
    with DynSec.from_settings(BrokerSettings()) as dynsec, unit_of_work() as conn:
        credentials = devices.register_device(
            conn,
            dynsec,
            device_id=device_id,
            site_id=site,
            sensors=definitions,
            description=description,
            organisation_id=org,
            principal=operator(),
        )
    console.print(
        f"device [bold]{device_id}[/] registered at site {site}, owned by {org}, with {len(definitions)} sensor(s)"
    )
    _print_credentials(
        username=credentials.username,
        client_id=credentials.client_id,
        password=credentials.password,
    )


def _status(device: DevicePublic) -> str:
    if device.revoked:
        return "revoked"
    if device.online is None:
        return "never"
    return "online" if device.online else "offline"


_STATUS_SHOWN = {
    "revoked": "[red]revoked[/]",
    "never": "[dim]○ never[/]",
    "online": "[green]● online[/]",
    "offline": "[red]● offline[/]",
}


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = (datetime.now(UTC) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


def _clock(synced: bool | None) -> str:
    if synced is None:
        return "-"
    return "synced" if synced else "[yellow]not synced[/]"


def _sensor_names(device: DevicePublic) -> list[str]:
    """The device's sensors by the names every command takes: DEVICE/KEY."""
    return [f"{device.id}/{s.key}" for s in device.sensors]


@devices_app.command("list")
def devices_list(
    site: Annotated[
        str | None, typer.Option(help="Only the devices at this site")
    ] = None,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """Every device with its sensors (DEVICE/KEY, as `export --sensor` takes them), last
    heartbeat and delivery completeness."""
    with unit_of_work() as conn:
        fleet_devices = fleet.list_devices(conn, operator(), site_id=site)
    online = sum(1 for d in fleet_devices if d.online and not d.revoked)
    # The table names each sensor as commands take it (DEVICE/KEY) and as people read it: its
    # quantity and unit from the quantity table ("PM10 particles (µg/m³)", not "pm10 ug/m3").
    described = {
        f"{d.id}/{s.key}": describe(s.quantity, s.unit, "en")
        for d in fleet_devices
        for s in d.sensors
    }
    print_listing(
        f"{len(fleet_devices)} device(s), {online} online",
        (
            Column("device"),
            Column("site"),
            Column("owner"),
            Column(
                "sensors",
                show=lambda names: (
                    ", ".join(f"{n}: {described[n]}" for n in names) or "-"
                ),
            ),
            Column("status", show=_STATUS_SHOWN.__getitem__),
            Column("last_seen", "last seen", show=_ago),
            Column("outbox", right=True),
            Column("clock_synced", "clock", show=_clock),
            Column(
                "clock_offset_ms",
                "offset",
                right=True,
                show=lambda ms: "-" if ms is None else f"{ms:+.1f} ms",
            ),
            Column(
                "completeness",
                "complete",
                right=True,
                show=lambda c: "-" if c is None else f"{c:.1%}",
            ),
        ),
        (
            (
                d.id,
                d.site_id,
                d.organisation_id,
                _sensor_names(d),
                _status(d),
                d.last_seen,
                d.outbox_depth,
                d.clock_synced,
                d.clock_offset_ms,
                d.completeness,
            )
            for d in fleet_devices
        ),
        output_format=output_format,
    )


@devices_app.command("rotate")
def devices_rotate(
    device_id: Annotated[str, typer.Argument(help="Device id")],
) -> None:
    """Give a device a new broker password (printed once); the old one stops working at once."""
    with DynSec.from_settings(BrokerSettings()) as dynsec, unit_of_work() as conn:
        credentials = devices.rotate_credentials(
            conn, dynsec, operator(), device_id=device_id
        )
    console.print(f"device [bold]{device_id}[/]: new password, the old one is void")
    _print_credentials(
        username=credentials.username,
        client_id=credentials.client_id,
        password=credentials.password,
    )


@devices_app.command("revoke")
def devices_revoke(
    device_id: Annotated[str, typer.Argument(help="Device id")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")] = "",
) -> None:
    """Disconnect a device and refuse its credentials from now on; its data stays."""
    with DynSec.from_settings(BrokerSettings()) as dynsec, unit_of_work() as conn:
        devices.revoke(conn, dynsec, operator(), device_id=device_id, reason=reason)
    console.print(
        f"device [bold]{device_id}[/] revoked: disconnected, its credentials refused; its data stays"
    )
