"""The web pages: sign-in, my trials, registering a trial, one trial, the approval queue, devices,
the yearly governance report.

Pages call the domain modules with the signed-in person's principal, as the API does; they never
call the API over HTTP. Every form carries the CSRF token (session.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from livinglab_platform import audit
from livinglab_platform.access import (
    require_operator,
    require_report_reader,
    require_writer,
)
from livinglab_platform.core.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    PlatformError,
)
from livinglab_platform.core.formatting import Formats
from livinglab_platform.governance import document
from livinglab_platform.governance.dates import today
from livinglab_platform.governance.report import build_report
from livinglab_platform.registry import organisations, sites, tokens
from livinglab_platform.registry.fleet import list_devices
from livinglab_platform.trials import registration, transitions
from livinglab_platform.trials.schemas import (
    Action,
    State,
    TransitionRequest,
    TrialPublic,
)
from livinglab_platform.web import device_page
from livinglab_platform.web.charts import (
    CHART_GEOMETRY,
    DEFAULT_RANGE,
    RANGES,
    trial_charts,
)
from livinglab_platform.web.forms import TrialForm, platform_errors, validation_errors
from livinglab_platform.web.i18n import translate
from livinglab_platform.web.render import redirect, render
from livinglab_platform.web.routing import PageRoute, error_detail
from livinglab_platform.web.session import (
    TOKEN_COOKIE,
    FormDep,
    PageConn,
    Session,
    SessionDep,
    field,
    forget_token,
    language,
    sign_in,
    sign_out,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=PageRoute)
router.include_router(device_page.router)

_NOTICES = frozenset({"created", "changed"})


@router.get("/")
@router.get("/signin")
def home(request: Request, conn: PageConn) -> Response:
    """Signed in: my trials. Otherwise the sign-in form."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return render(request, "signin.html", error_id=None)
    try:
        tokens.authenticate(conn, token)
    except AuthenticationError:
        response = render(request, "signin.html", error_id="signin.ended")
        forget_token(request, response)
        return response
    return redirect(request, "/trials")


@router.post("/signin")
def sign_in_page(request: Request, conn: PageConn, form: FormDep) -> Response:
    """Check the pasted token; keep it in a cookie and go to my trials."""
    token = field(form, "token").strip()
    if not token:
        return render(request, "signin.html", status_code=400, error_id="signin.empty")
    try:
        tokens.authenticate(conn, token)
    except AuthenticationError:
        return render(request, "signin.html", status_code=400, error_id="signin.error")
    response = redirect(request, "/trials")
    sign_in(request, response, token)
    return response


@router.get("/signout")
def sign_out_link(request: Request) -> Response:
    """Forget the sign-in (signing out asks for no proof: it only ever takes access away)."""
    response = redirect(request, "/")
    sign_out(request, response)
    return response


@router.post("/signout")
def sign_out_page(request: Request, _form: FormDep) -> Response:
    """The header's sign-out button."""
    return sign_out_link(request)


@router.get("/trials")
def my_trials(request: Request, conn: PageConn, session: SessionDep) -> Response:
    """The trials the person may see, newest first."""
    found = registration.list_trials(conn, session.principal)
    names = organisations.organisation_names(conn, (t.organisation_id for t in found))
    # An operator sees every trial, a partner the trials of their organisation and its partners.
    role = session.principal.role.value
    title_id = "trials.title" if role == "partner" else f"trials.title.{role}"
    return render(
        request, "trials.html", trials=found, organisations=names, title_id=title_id
    )


def _form_page(
    request: Request,
    conn: PageConn,
    session: Session,
    form: TrialForm,
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    own = session.principal.organisation_id
    return render(
        request,
        "trial_form.html",
        status_code=status_code,
        form=form,
        errors=errors,
        sites=sites.list_sites(conn),
        organisations=[
            o for o in organisations.list_organisations(conn) if o.id != own
        ],
    )


@router.get("/trials/new")
def new_trial(request: Request, conn: PageConn, session: SessionDep) -> Response:
    """The registration form for a startup's (or any partner's) trial."""
    require_writer(session.principal, "register trials")
    return _form_page(request, conn, session, TrialForm(), {})


@router.post("/trials/new")
def create_trial(
    request: Request, conn: PageConn, session: SessionDep, form: FormDep
) -> Response:
    """Register the trial as a draft and show it; a refused form comes back as typed."""
    typed = TrialForm.read(form)
    try:
        # A savepoint: a refused trial is undone, and the form page can still read the sites.
        with conn.transaction():
            trial = registration.create_trial(
                conn, session.principal, trial=typed.trial()
            )
    except ValidationError as exc:
        errors = validation_errors(language(request), exc, typed)
        return _form_page(request, conn, session, typed, errors, status_code=422)
    except (InvalidInputError, ConflictError) as exc:
        return _form_page(
            request, conn, session, typed, platform_errors(exc), status_code=exc.status
        )
    return redirect(request, f"/trials/{trial.id}?notice=created")


def _trial_page(
    request: Request,
    conn: PageConn,
    session: Session,
    trial_id: int,
    *,
    status_code: int = 200,
    error: str = "",
    reason_for: str = "",
) -> Response:
    trial = registration.get_trial(conn, session.principal, trial_id)
    notice = request.query_params.get("notice", "")
    return render(
        request,
        "trial.html",
        status_code=status_code,
        trial=trial,
        entries=audit.list_entries(conn, object_type="trial", object_id=trial.id),
        organisations=organisations.organisation_names(
            conn, [trial.organisation_id, *(p.organisation_id for p in trial.partners)]
        ),
        site_names=sites.site_names(conn, trial.site_ids),
        ranges=tuple(RANGES),
        notice=notice if notice in _NOTICES else "",
        error=error,
        reason_for=reason_for,
        **_charts(request, conn, session, trial),
    )


def _charts(
    request: Request, conn: PageConn, session: Session, trial: TrialPublic
) -> dict[str, Any]:
    """What the charts' template needs: the charts over the chosen range and their geometry."""
    lang = language(request)
    chosen = request.query_params.get("range", "")
    range_name = chosen if chosen in RANGES else DEFAULT_RANGE
    texts = {
        id: translate(lang, f"chart.{id}") for id in ("low", "high", "zone", "assigned")
    }
    return {
        "charts": trial_charts(
            conn,
            session.principal,
            trial,
            now=datetime.now(UTC),
            range_name=range_name,
            viewer_min_count=request.app.state.settings.viewer_min_count,
            formats=Formats(lang),
            texts=texts,
        ),
        "range_name": range_name,
        **CHART_GEOMETRY,
    }


@router.get("/trials/{trial_id}/charts")
def trial_charts_part(
    request: Request, conn: PageConn, session: SessionDep, trial_id: int
) -> Response:
    """The trial page's charts alone, for static/chart.js to redraw them every 30 s."""
    trial = registration.get_trial(conn, session.principal, trial_id)
    return render(request, "charts.html", **_charts(request, conn, session, trial))


@router.get("/trials/{trial_id}")
def show_trial(
    request: Request, conn: PageConn, session: SessionDep, trial_id: int
) -> Response:
    """A trial: its details, state, actions, devices, live charts and audit trail."""
    return _trial_page(request, conn, session, trial_id)


@router.post("/trials/{trial_id}")
def act_on_trial(
    request: Request,
    conn: PageConn,
    session: SessionDep,
    form: FormDep,
    trial_id: int,
) -> Response:
    """Take a lifecycle action (submit, approve, reject, ...) from the trial page or the queue."""
    try:
        action = Action(field(form, "action"))
    except ValueError:
        raise InvalidInputError(
            "unknown action; use one of the trial page's buttons"
        ) from None
    reason = field(form, "reason").strip()
    try:
        with conn.transaction():  # a savepoint, as in create_trial
            trial = transitions.transition(
                conn,
                session.principal,
                trial_id,
                request=TransitionRequest(action=action, reason=reason),
            )
    except ValidationError as exc:
        lang = language(request)
        # Pydantic speaks English: a Slovenian page says what happened in its own words.
        message = (
            "; ".join(str(e.get("msg")) for e in exc.errors())
            if lang == "en"
            else translate(lang, "error.400.text")
        )
        return _trial_page(
            request, conn, session, trial_id, status_code=422, error=message
        )
    except (InvalidInputError, ConflictError) as exc:
        missing_reason = exc.field == "reason"
        return _trial_page(
            request,
            conn,
            session,
            trial_id,
            status_code=exc.status,
            error="" if missing_reason else _refusal(request, exc),
            reason_for=action.value if missing_reason else "",
        )
    if field(form, "next") == "queue":
        return redirect(request, f"/queue?done={trial.id}")
    return redirect(request, f"/trials/{trial.id}?notice=changed")


def _refusal(request: Request, exc: PlatformError) -> str:
    """Why an action was refused, in the page's language (routing.error_detail's rule), or the
    page's general sentence for the error's status where the detail has no translation."""
    lang = language(request)
    status = exc.status if exc.status in (400, 403, 404, 409) else 500
    return error_detail(exc, lang) or translate(lang, f"error.{status}.text")


@router.get("/queue")
def approval_queue(request: Request, conn: PageConn, session: SessionDep) -> Response:
    """Submitted trials for an operator to approve or reject."""
    require_operator(session.principal, "see the approval queue")
    waiting = registration.list_trials(conn, session.principal, state=State.submitted)
    done = None
    done_id = request.query_params.get("done", "")
    if done_id.isdigit():
        try:
            done = registration.get_trial(conn, session.principal, int(done_id))
        except PlatformError:
            done = None
    return render(
        request,
        "queue.html",
        trials=waiting,
        done=done,
        queue_actions=(Action.approve, Action.reject),
        organisations=organisations.organisation_names(
            conn, (t.organisation_id for t in waiting)
        ),
    )


@router.get("/devices")
def devices(request: Request, conn: PageConn, session: SessionDep) -> Response:
    """Devices with their online state, last heartbeat, outbox, clock and completeness."""
    shown = list_devices(conn, session.principal)
    return render(
        request,
        "devices.html",
        devices=shown,
        organisations=organisations.organisation_names(
            conn, (d.organisation_id for d in shown)
        ),
        site_names=sites.site_names(conn, (d.site_id for d in shown)),
    )


# The years the report page offers to choose from, back from the current one.
REPORT_YEARS_SHOWN = 6


@router.get("/governance")
def governance_report(
    request: Request, conn: PageConn, session: SessionDep
) -> Response:
    """The yearly report to the Strategic Council (operators and viewers); `?year=`, by default
    the current year."""
    require_report_reader(session.principal)
    current = today().year
    text = request.query_params.get("year", "").strip() or str(current)
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        raise InvalidInputError(
            f"{text[:20]!r} is not a year such as 2025", field="year"
        )
    year = int(text)
    report = build_report(conn, session.principal, year=year)
    years = sorted(
        {year, *range(current - REPORT_YEARS_SHOWN + 1, current + 1)}, reverse=True
    )
    return render(
        request,
        "governance.html",
        years=years,
        **document.context(report, language(request)),
    )
