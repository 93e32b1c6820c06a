"""Turning templates into responses: the Jinja2 environment and what every page is given."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from livinglab_platform.audit import AuditEntryPublic
from livinglab_platform.core.formatting import LANGUAGES, Formats
from livinglab_platform.core.quantities import quantity_label, unit_symbol
from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.web.audit_lines import audit_line
from livinglab_platform.web.i18n import translate
from livinglab_platform.web.session import CSRF_FIELD, csrf_token, language, remember

__all__ = ["SECURITY_HEADERS", "redirect", "render"]


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("livinglab_platform.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# Filters write as the page's language does (core.formatting): times on Ljubljana's clock with
# their zone, `5. 12. 2026`, decimal commas; quantities and units as core.quantities names them.
@jinja2.pass_context
def _when(context: jinja2.runtime.Context, moment: datetime | None) -> str:
    return Formats(context["lang"]).moment(moment)


@jinja2.pass_context
def _day(context: jinja2.runtime.Context, day: date | None) -> str:
    return Formats(context["lang"]).day(day)


@jinja2.pass_context
def _percent(context: jinja2.runtime.Context, share: float | None) -> str:
    return Formats(context["lang"]).percent(share)


@jinja2.pass_context
def _integer(context: jinja2.runtime.Context, value: int | None) -> str:
    return "—" if value is None else Formats(context["lang"]).integer(value)


@jinja2.pass_context
def _quantity(context: jinja2.runtime.Context, quantity: str) -> str:
    return quantity_label(quantity, context["lang"])


@jinja2.pass_context
def _audit_line(context: jinja2.runtime.Context, entry: AuditEntryPublic) -> str:
    return audit_line(entry, context["lang"])


_ENV.filters["when"] = _when
_ENV.filters["audit_line"] = _audit_line
_ENV.filters["day"] = _day
_ENV.filters["percent"] = _percent
_ENV.filters["integer"] = _integer
_ENV.filters["quantity"] = _quantity
_ENV.filters["unit"] = unit_symbol
_ENV.globals["reason_required"] = {
    action.value: rule.reason_required for action, rule in TRANSITIONS.items()
}
_ENV.globals["languages"] = LANGUAGES
_ENV.globals["csrf_field"] = CSRF_FIELD


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> Response:
    """A page in the browser's language, with the header's session and the form token."""
    lang = language(request)
    html = _ENV.get_template(template).render(
        lang=lang,
        t=partial(translate, lang),
        session=getattr(request.state, "session", None),
        csrf=csrf_token(request),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return _secured(request, response)


def redirect(request: Request, url: str) -> Response:
    """See other: after a form, or to the sign-in page; keeps cookies this request set."""
    return _secured(request, RedirectResponse(url, status_code=303))


# Pages (and the API's docs page) are never framed (clickjacking), load nothing from elsewhere and
# run no inline script or style.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self';"
        " script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "same-origin",
}


def _secured(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return remember(request, response)
