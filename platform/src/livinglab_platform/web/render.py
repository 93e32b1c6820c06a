"""Turning templates into responses: the Jinja2 environment and what every page is given."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

# People read times on the lab's clock (Ljubljana); the database and the API speak UTC.
from livinglab_platform.governance.dates import LJUBLJANA
from livinglab_platform.trials.lifecycle import TRANSITIONS
from livinglab_platform.web.i18n import LANGUAGES, translate
from livinglab_platform.web.session import CSRF_FIELD, csrf_token, language, remember

__all__ = ["SECURITY_HEADERS", "redirect", "render"]


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("livinglab_platform.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(LJUBLJANA).strftime("%Y-%m-%d %H:%M")


def _day(day: date | None) -> str:
    return "—" if day is None else day.isoformat()


def number(value: float | None) -> str:
    """Four significant digits, as chart.js shows them too."""
    if value is None:
        return "—"
    rounded = float(f"{value:.4g}")
    return str(int(rounded)) if rounded.is_integer() else str(rounded)


_ENV.filters["when"] = _when
_ENV.filters["day"] = _day
_ENV.filters["number"] = number
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
