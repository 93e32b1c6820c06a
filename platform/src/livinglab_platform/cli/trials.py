"""`livinglab trials ...`: the approval queue, lifecycle, devices, grants and dossiers of trials."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from livinglab_platform import audit
from livinglab_platform.cli.terminal import (
    FORMATS,
    Column,
    FormatOption,
    ListFormat,
    console,
    err,
    format_moment,
    format_size,
    is_stdout,
    operator,
    parse_end,
    parse_moment,
    print_listing,
    print_table,
    unit_of_work,
)
from livinglab_platform.cli.terminal import output as open_output
from livinglab_platform.data import dossiers
from livinglab_platform.trials import assignments, grants, registration, transitions
from livinglab_platform.trials.schemas import (
    Action,
    AssignmentCreate,
    GrantCreate,
    Outcome,
    State,
    TransitionRequest,
    TrialPublic,
)

__all__ = ["trials_app"]

trials_app = typer.Typer(
    help="Trials: approval, lifecycle, devices, grants, dossiers.", no_args_is_help=True
)

TrialId = Annotated[int, typer.Argument(help="Trial id (from `trials list`)")]
Start = Annotated[
    datetime,
    typer.Option(
        parser=parse_moment,
        metavar="DATE",
        help="First day (Ljubljana), or a date-time (Ljubljana's clock without an offset)",
        show_default=False,
    ),
]
End = Annotated[
    datetime,
    typer.Option(
        parser=parse_end,
        metavar="DATE",
        help="Last day, included (Ljubljana), or an exact date-time, excluded",
        show_default=False,
    ),
]

_STATE_STYLE = {
    State.draft: "dim",
    State.submitted: "yellow",
    State.approved: "cyan",
    State.rejected: "red",
    State.deploying: "cyan",
    State.running: "green",
    State.evaluating: "green",
    State.completed: "blue",
    State.withdrawn: "red",
}


def _state(trial: TrialPublic) -> str:
    return f"[{_STATE_STYLE[trial.state]}]{trial.state.value}[/]"


@trials_app.command("list")
def trials_list(
    state: Annotated[
        State | None, typer.Option(help="Only trials in this state, e.g. submitted")
    ] = None,
    output_format: FormatOption = ListFormat.table,
) -> None:
    """Trials, newest first; `--state submitted` is the approval queue."""
    with unit_of_work() as conn:
        found = registration.list_trials(conn, operator(), state=state)
    columns = (
        Column("id", right=True),
        Column("title"),
        Column("organisation"),
        Column("state", show=lambda s: f"[{_STATE_STYLE[s]}]{s.value}[/]"),
        Column("trl_start", "TRL at start"),
        Column("trl_target", "TRL target"),
        Column("starts_on", "from"),
        Column("ends_on", "until (included)"),
        Column("sites"),
        Column("devices", right=True),
    )
    print_listing(
        f"{len(found)} trial(s)" + (f" {state.value}" if state else ""),
        columns,
        (
            (
                t.id,
                t.title,
                t.organisation_id,
                t.state,
                t.trl_start,
                t.trl_target,
                t.starts_on,
                t.ends_on,
                t.site_ids,
                len({d.device_id for d in t.devices}),
            )
            for t in found
        ),
        output_format=output_format,
    )


@trials_app.command("show")
def trials_show(trial_id: TrialId) -> None:
    """A trial's details, devices, grants and audit trail."""
    with unit_of_work() as conn:
        principal = operator()
        trial = registration.get_trial(conn, principal, trial_id)
        given = grants.list_grants(conn, principal, trial_id)
        entries = audit.list_entries(conn, object_type="trial", object_id=trial_id)
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column()
    reason = f" ({trial.state_reason})" if trial.state_reason else ""
    partners = ", ".join(
        p.organisation_id + (f" ({p.role})" if p.role else "") for p in trial.partners
    )
    for label, value in (
        ("state", _state(trial) + reason),
        ("organisation", trial.organisation_id),
        ("technology", f"{trial.technology}, TRL {trial.trl_start}→{trial.trl_target}"),
        ("", trial.technology_description),
        (
            "period",
            f"{FORMATS.day(trial.starts_on)} to {FORMATS.day(trial.ends_on)}, included",
        ),
        ("sites", ", ".join(trial.site_ids) or "-"),
        ("partners", partners or "-"),
        ("success criteria", trial.success_criteria or "-"),
        ("data sharing", trial.data_sharing_terms or "-"),
        ("personal data", "yes" if trial.personal_data else "no"),
        ("next actions", ", ".join(a.value for a in trial.actions) or "none"),
    ):
        if value:
            details.add_row(label, value)
    console.print(f"[bold]trial {trial.id}: {trial.title}[/]")
    print_table(details)
    if trial.devices:
        table = Table(title="devices")
        for column in ("assignment", "device", "from", "until"):
            table.add_column(column)
        for d in trial.devices:
            table.add_row(
                str(d.id),
                d.device_id,
                format_moment(d.starts_at),
                format_moment(d.ends_at),
            )
        print_table(table)
    if given:
        table = Table(title="data grants")
        for column in ("grant", "organisation", "from", "until", "reason", "state"):
            table.add_column(column)
        for g in given:
            table.add_row(
                str(g.id),
                g.organisation_id,
                format_moment(g.starts_at),
                format_moment(g.ends_at),
                g.reason,
                "[red]revoked[/]" if g.revoked else "active",
            )
        print_table(table)
    table = Table(title="audit trail")
    for column in ("time", "who", "action", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(format_moment(e.time), e.actor, e.action, e.reason or "")
    print_table(table)


def _transition(
    trial_id: int, *, action: Action, reason: str, outcome: Outcome | None = None
) -> None:
    with unit_of_work() as conn:
        trial = transitions.transition(
            conn,
            operator(),
            trial_id,
            request=TransitionRequest(action=action, reason=reason, outcome=outcome),
        )
    following = ", ".join(a.value for a in trial.actions) or "none"
    console.print(
        f"trial {trial.id} ({trial.title}): {action.value} done, now {_state(trial)}; next: {following}"
    )


@trials_app.command("approve")
def trials_approve(
    trial_id: TrialId,
    reason: Annotated[str, typer.Option(help="A note for the audit trail")] = "",
) -> None:
    """Approve a submitted trial."""
    _transition(trial_id, action=Action.approve, reason=reason)


@trials_app.command("reject")
def trials_reject(
    trial_id: TrialId,
    reason: Annotated[
        str, typer.Option(help="Why; the applicant reads it", show_default=False)
    ],
) -> None:
    """Reject a submitted trial, with the reason."""
    _transition(trial_id, action=Action.reject, reason=reason)


@trials_app.command("transition")
def trials_transition(
    trial_id: TrialId,
    action: Annotated[Action, typer.Argument(help="The lifecycle action")],
    reason: Annotated[
        str, typer.Option(help="Why (required to reject and withdraw)")
    ] = "",
    outcome: Annotated[
        Outcome | None,
        typer.Option(help="With complete: continued, scaled, procured or stopped"),
    ] = None,
) -> None:
    """Take any lifecycle action: submit, approve, reject, deploy, start, evaluate, complete, withdraw."""
    _transition(trial_id, action=action, reason=reason, outcome=outcome)


@trials_app.command("assign")
def trials_assign(
    trial_id: TrialId,
    device: Annotated[str, typer.Argument(help="Device id")],
    start: Start,
    end: End,
) -> None:
    """Put a device to work for a trial from --start until --end."""
    with unit_of_work() as conn:
        assignment = assignments.assign_device(
            conn,
            operator(),
            trial_id,
            assignment=AssignmentCreate(device_id=device, starts_at=start, ends_at=end),
        )
    console.print(
        f"device {assignment.device_id} assigned to trial {trial_id} from"
        f" {format_moment(assignment.starts_at)} until {format_moment(assignment.ends_at)}"
        f" (assignment {assignment.id})"
    )


@trials_app.command("grant")
def trials_grant(
    trial_id: TrialId,
    org: Annotated[str, typer.Argument(help="Organisation that may read the data")],
    start: Start,
    end: End,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail")] = "",
) -> None:
    """Let another organisation read a trial's data of a period."""
    with unit_of_work() as conn:
        grant = grants.create_grant(
            conn,
            operator(),
            trial_id,
            grant=GrantCreate(
                organisation_id=org, starts_at=start, ends_at=end, reason=reason
            ),
        )
    console.print(
        f"grant {grant.id}: {grant.organisation_id} may read trial {trial_id}'s data from"
        f" {format_moment(grant.starts_at)} until {format_moment(grant.ends_at)}"
    )


@trials_app.command("dossier")
def trials_dossier(
    trial_id: TrialId,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Zip file to write, `-` for stdout; default trial-ID-dossier.zip",
        ),
    ] = None,
) -> None:
    """Write a trial's dossier (details, audit trail, data) as one zip file."""

    path = output or Path(f"trial-{trial_id}-dossier.zip")
    started = time.monotonic()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        # A bar only on a terminal: in a log or a pipe it is noise.
        disable=is_stdout(path) or not err.is_terminal,
    )
    task = progress.add_task(f"dossier of trial {trial_id}", total=None)
    with unit_of_work() as conn, progress, open_output(path) as out:
        summary = dossiers.write_dossier(
            conn,
            operator(),
            trial_id,
            out,
            on_rows=lambda rows: progress.advance(task, rows),
        )
    if is_stdout(path):
        return
    console.print(
        f"dossier of trial {trial_id} written to {path}: {len(summary.files)} file(s),"
        f" {summary.rows:,} data rows, {format_size(path.stat().st_size)}"
        f" in {time.monotonic() - started:.1f} s"
    )
