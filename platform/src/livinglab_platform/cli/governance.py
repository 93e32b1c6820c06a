"""`livinglab governance ...`: the governance record, the year's indicators and verdict, the milestone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from livinglab_platform import governance
from livinglab_platform.cli.evidence import evidence_app
from livinglab_platform.cli.terminal import (
    FORMATS,
    Column,
    FormatOption,
    ListFormat,
    console,
    operator,
    output,
    parse_day,
    parse_moment,
    print_listing,
    print_table,
    unit_of_work,
)
from livinglab_platform.governance import (
    applications,
    council,
    forms,
    table,
)
from livinglab_platform.governance.dates import today
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    ApplicationStatus,
    CouncilMemberCreate,
    DecisionKind,
    FormCreate,
    FormKind,
    FormUpdate,
    MeetingCreate,
    MolRole,
    StatusEntry,
)

__all__ = ["governance_app"]

governance_app = typer.Typer(
    help="The governance record, the strategy's indicators and verdict, the milestone.",
    no_args_is_help=True,
)
forms_app = typer.Typer(
    help="Organisational forms linking stakeholders.", no_args_is_help=True
)
council_app = typer.Typer(
    help="The Strategic Council: members and meetings.", no_args_is_help=True
)
applications_app = typer.Typer(
    help="Co-financed project applications.", no_args_is_help=True
)
governance_app.add_typer(forms_app, name="forms")
governance_app.add_typer(council_app, name="council")
governance_app.add_typer(applications_app, name="applications")
governance_app.add_typer(evidence_app, name="evidence")


Day = Annotated[
    date,
    typer.Option(parser=parse_day, help="ISO date (Ljubljana)", show_default=False),
]
OptionalDay = Annotated[
    date | None,
    typer.Option(parser=parse_day, help="ISO date (Ljubljana)", show_default=False),
]


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    """`A:B` pairs; `A` alone has an empty B."""
    return [(v.partition(":")[0], v.partition(":")[2]) for v in values]


@forms_app.command("add")
def forms_add(
    kind: Annotated[
        FormKind,
        typer.Option(help="mol_family, horizontal, vertical or living_lab_partnership"),
    ],
    name: Annotated[str, typer.Option(help="The form's name", show_default=False)],
    member: Annotated[
        list[str], typer.Option(help="ORG[:ROLE], repeatable", show_default=False)
    ],
    starts: Day,
    ends: OptionalDay = None,
    description: str = "",
) -> None:
    """Record an organisational form with its members and active period."""
    with unit_of_work() as conn:
        made = forms.create_form(
            conn,
            operator(),
            form=FormCreate.model_validate(
                {
                    "kind": kind,
                    "name": name,
                    "description": description,
                    "starts_on": starts,
                    "ends_on": ends,
                    "members": [
                        {"organisation_id": o, "role": r} for o, r in _pairs(member)
                    ],
                }
            ),
        )
    console.print(
        f"form {made.id} recorded: {made.name} ({made.kind.value}, from {made.starts_on})"
    )


@forms_app.command("end")
def forms_end(form_id: int, on: Day) -> None:
    """End a form on a day (its last active day)."""
    with unit_of_work() as conn:
        made = forms.update_form(
            conn, operator(), form_id, changes=FormUpdate(ends_on=on)
        )
    console.print(f"form {made.id} ({made.name}) ends on {made.ends_on}")


@forms_app.command("list")
def forms_list(
    kind: Annotated[FormKind | None, typer.Option()] = None,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """Organisational forms with members, period and evidence."""
    with unit_of_work() as conn:
        found = forms.list_forms(conn, operator(), kind=kind)
    print_listing(
        f"{len(found)} form(s)",
        (
            Column("id", right=True),
            Column("kind"),
            Column("name"),
            Column("starts_on", "from"),
            Column("ends_on", "until", show=_open_end),
            Column("members"),
            Column("evidence"),
        ),
        (
            (
                f.id,
                f.kind,
                f.name,
                f.starts_on,
                f.ends_on,
                [m.organisation_id for m in f.members],
                [f"{e.id}:{e.quality.value}" for e in f.evidence],
            )
            for f in found
        ),
        output_format=output_format,
    )


def _open_end(day: date | None) -> str:
    return "open" if day is None else FORMATS.day(day)


@council_app.command("add-member")
def council_add_member(
    name: Annotated[str, typer.Argument(help="The member's name")],
    term_start: Day,
    term_end: OptionalDay = None,
    org: Annotated[str | None, typer.Option(help="Organisation id")] = None,
    role: str = "",
) -> None:
    """Appoint a member of the Strategic Council for a term."""
    with unit_of_work() as conn:
        made = council.add_member(
            conn,
            operator(),
            member=CouncilMemberCreate(
                name=name,
                organisation_id=org,
                role=role,
                term_starts_on=term_start,
                term_ends_on=term_end,
            ),
        )
    console.print(f"council member {made.id}: {made.name}, from {made.term_starts_on}")


@council_app.command("members")
def council_members(output_format: FormatOption = ListFormat.table) -> None:
    """The council's members and their terms."""
    with unit_of_work() as conn:
        found = council.list_members(conn, operator())
    print_listing(
        f"{len(found)} member(s)",
        (
            Column("id", right=True),
            Column("name"),
            Column("organisation"),
            Column("role"),
            Column("term_starts_on", "term from"),
            Column("term_ends_on", "term until", show=_open_end),
        ),
        (
            (m.id, m.name, m.organisation_id, m.role, m.term_starts_on, m.term_ends_on)
            for m in found
        ),
        output_format=output_format,
    )


@council_app.command("meeting")
def council_meeting(
    at: Annotated[
        datetime,
        typer.Option(
            parser=parse_moment,
            help="ISO date-time; Ljubljana's clock without an offset",
            show_default=False,
        ),
    ],
    attendee: Annotated[
        list[int] | None, typer.Option(help="Member id, repeatable")
    ] = None,
    decision: Annotated[
        list[str] | None,
        typer.Option(help="strategic:TEXT or programme:TEXT, repeatable"),
    ] = None,
    agenda: str = "",
    place: str = "",
) -> None:
    """Record a council meeting with attendees and decisions; attach the minutes as evidence."""
    decisions = []
    for kind, text in _pairs(decision or []):
        if kind not in DecisionKind.__members__:
            raise typer.BadParameter(
                f"{kind!r}: a decision is strategic:TEXT or programme:TEXT"
            )
        decisions.append({"kind": kind, "text": text})
    with unit_of_work() as conn:
        made = council.create_meeting(
            conn,
            operator(),
            meeting=MeetingCreate.model_validate(
                {
                    "held_at": at,
                    "agenda": agenda,
                    "place": place,
                    "attendee_ids": attendee or [],
                    "decisions": decisions,
                }
            ),
        )
    console.print(
        f"meeting {made.id} recorded on {made.held_on} with {len(made.decisions)} decision(s)"
    )


@council_app.command("meetings")
def council_meetings(
    year: Annotated[int | None, typer.Option()] = None,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """The council's meetings, by Ljubljana date."""
    with unit_of_work() as conn:
        found = council.list_meetings(conn, operator(), year=year)
    print_listing(
        f"{len(found)} meeting(s)",
        (
            Column("id", right=True),
            Column("date"),
            Column("place"),
            Column("attendees", right=True),
            Column("decisions", show=lambda d: "; ".join(d) or "-"),
            Column("evidence"),
        ),
        (
            (
                m.id,
                m.held_on,
                m.place,
                len(m.attendees),
                [f"{d.kind.value}: {d.text}" for d in m.decisions],
                [f"{e.id}:{e.quality.value}" for e in m.evidence],
            )
            for m in found
        ),
        output_format=output_format,
    )


@applications_app.command("add")
def applications_add(
    programme: Annotated[
        str, typer.Option(help="e.g. Horizon Europe", show_default=False)
    ],
    title: Annotated[str, typer.Option(show_default=False)],
    mol_role: Annotated[
        MolRole, typer.Option(help="coordinator, partner or associated")
    ],
    total: Annotated[
        Decimal, typer.Option(help="Total budget, EUR", show_default=False)
    ],
    mol_share: Annotated[
        Decimal, typer.Option(help="MOL's share, EUR", show_default=False)
    ],
    call: str = "",
    acronym: str = "",
    partner: Annotated[
        list[str] | None, typer.Option(help="ORG[:ROLE], repeatable")
    ] = None,
    trial: Annotated[
        list[int] | None, typer.Option(help="A trial it funds, repeatable")
    ] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="STATUS:DATE, oldest first, repeatable")
    ] = None,
) -> None:
    """Record a co-financed project application."""
    history = [{"status": s, "on": parse_day(d)} for s, d in _pairs(status or [])]
    with unit_of_work() as conn:
        made = applications.create_application(
            conn,
            operator(),
            application=ApplicationCreate.model_validate(
                {
                    "programme": programme,
                    "call": call,
                    "title": title,
                    "acronym": acronym,
                    "mol_role": mol_role,
                    "total_budget": total,
                    "mol_share": mol_share,
                    "partners": [
                        {"organisation_id": o, "role": r}
                        for o, r in _pairs(partner or [])
                    ],
                    "trial_ids": trial or [],
                    "status_history": history,
                }
            ),
        )
    console.print(
        f"application {made.id} recorded: {made.acronym or made.title}, {made.status.value}"
    )


@applications_app.command("status")
def applications_status(
    application_id: int,
    status: Annotated[ApplicationStatus, typer.Argument(help="The next status")],
    on: Day,
    note: str = "",
) -> None:
    """Add an application's next status with its date."""
    with unit_of_work() as conn:
        made = applications.add_status(
            conn,
            operator(),
            application_id,
            entry=StatusEntry(status=status, on=on, note=note),
        )
    console.print(f"application {made.id} is {made.status.value} since {on}")


@applications_app.command("list")
def applications_list(output_format: FormatOption = ListFormat.table) -> None:
    """Applications with their status, budget and evidence."""
    with unit_of_work() as conn:
        found = applications.list_applications(conn, operator())
    print_listing(
        f"{len(found)} application(s)",
        (
            Column("id", right=True),
            Column("programme"),
            Column("acronym"),
            Column("mol_role", "MOL"),
            Column("status"),
            Column("submitted_on", "submitted"),
            Column("total_budget", "total EUR", right=True),
            Column("mol_share", "MOL EUR", right=True),
        ),
        (
            (
                a.id,
                a.programme,
                a.acronym or a.title,
                a.mol_role,
                a.status,
                a.submitted_on,
                a.total_budget,
                a.mol_share,
            )
            for a in found
        ),
        output_format=output_format,
    )


_YES = {True: "[green]yes[/]", False: "[red]no[/]"}


@governance_app.command("indicators")
def indicators(
    year: Annotated[
        int | None, typer.Option(min=2000, max=2100, help="Calendar year")
    ] = None,
    csv: Annotated[
        bool, typer.Option("--csv", help="Every indicator by year, as CSV")
    ] = False,
    first: Annotated[
        int | None, typer.Option("--from", help="With --csv: first year (the record's)")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--to", help="With --csv: last year (this year)")
    ] = None,
    out: Annotated[
        Path, typer.Option("--output", "-o", help="With --csv: file; - for stdout")
    ] = Path("-"),
) -> None:
    """The year's indicators, their evidence and the verdict; --csv: every indicator by year."""
    if csv:
        _indicators_csv(first=first or year, last=last or year, out=out)
        return
    if year is None:
        raise typer.BadParameter("give --year, or --csv", param_hint="--year")
    with unit_of_work() as conn:
        found = governance.indicators(conn, operator(), year=year)
    table = Table(title=f"indicators {year} (as of {found.as_of})")
    for column in ("indicator", "value", "target", "met", "records (quality)"):
        table.add_column(column)
    for i in found.indicators:
        met = _YES[i.met] + (
            " [yellow](self-reported)[/]" if i.self_reported_only else ""
        )
        records = "; ".join(f"{r.label} ({r.quality.value})" for r in i.records) or "-"
        table.add_row(
            f"{i.name_sl}\n[dim]{i.key}[/]", str(i.value), str(i.target), met, records
        )
    print_table(table)
    console.print(
        f"[bold]{found.verdict.sl}[/] ({found.verdict.en}): {found.verdict.rule}"
    )
    lab = found.lab
    console.print(
        f"the lab's own: {lab.trials_started} trial(s) started, {lab.trials_completed} completed;"
        f" outcomes {lab.outcomes}; helix {lab.helix_partners};"
        f" {lab.applications_granted} application(s) granted, EUR {lab.funds_won_total:,}"
        f" (MOL EUR {lab.funds_won_mol:,})"
    )


def _indicators_csv(*, first: int | None, last: int | None, out: Path) -> None:
    with unit_of_work() as conn:
        start = first if first is not None else table.first_year(conn)
        end = last if last is not None else today().year
        text = table.indicators_csv(conn, operator(), first=start, last=end)
    with output(out) as stream:
        stream.write(text.encode())


@governance_app.command("milestone")
def milestone(
    as_of: Annotated[
        date | None, typer.Option(parser=parse_day, help="ISO date; default today")
    ] = None,
) -> None:
    """The milestone "a working living lab" as of a date: each criterion, first met, what is missing."""
    day = as_of or today()
    with unit_of_work() as conn:
        found = governance.milestone(conn, operator(), as_of=day)
    table = Table(title=f"a working living lab, as of {day}")
    for column in ("criterion", "met", "found", "first met", "missing"):
        table.add_column(column)
    for c in found.criteria:
        table.add_row(
            c.description,
            _YES[c.met],
            c.value,
            str(c.first_met_on or "-"),
            c.missing or "",
        )
    print_table(table)
    console.print(
        f"milestone {'achieved' if found.achieved else 'not achieved'} as of {day}"
    )
