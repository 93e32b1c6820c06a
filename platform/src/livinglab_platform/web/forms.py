"""The trial registration form: what a person typed, turned into a TrialCreate or field messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from livinglab_platform.core.errors import PlatformError
from livinglab_platform.core.schema import CONTROL_CHARACTERS
from livinglab_platform.trials.schemas import (
    TRIAL_FIELDS,
    TrialCreate,
    TrialRangeError,
    trial_range_errors,
)
from livinglab_platform.web.i18n import translate
from livinglab_platform.web.session import field as text_field

__all__ = ["TEXT_FIELDS", "TrialForm", "platform_errors", "validation_errors"]

# The trial's fields typed as text; personal_data is a checkbox.
TEXT_FIELDS = tuple(name for name in TRIAL_FIELDS if name != "personal_data")
# Left empty, these are missing (a clear "required") rather than an unparsable "".
_REQUIRED = frozenset(
    {"title", "technology", "trl_start", "trl_target", "starts_on", "ends_on"}
)
# pydantic error types -> message ids of i18n; the rest keep pydantic's English message.
_MESSAGES = {
    "missing": "error.required",
    "string_too_short": "error.too_short",
    "string_too_long": "error.too_long",
    "int_parsing": "error.trl",
    "int_type": "error.trl",
    "int_from_float": "error.trl",
    "greater_than_equal": "error.trl",
    "less_than_equal": "error.trl",
    "date_parsing": "error.date",
    "date_from_datetime_parsing": "error.date",
    "date_from_datetime_inexact": "error.date",
    "date_type": "error.date",
    "string_pattern_mismatch": "error.choice",
    CONTROL_CHARACTERS: "error.control",
}
# The ranges of TrialCreate, each told next to its upper end, the field a person would change.
_RANGE_MESSAGES = {"trl_target": "error.trl_order", "ends_on": "error.date_order"}
# How a typed value of a range's end is read before the ranges are compared.
_RANGE_TYPES: dict[str, type[int] | type[date]] = {
    "trl_start": int,
    "trl_target": int,
    "starts_on": date,
    "ends_on": date,
}


@dataclass
class TrialForm:
    """The form's values as typed, so a refused form comes back as the person left it."""

    values: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(TEXT_FIELDS, "")
    )
    site_ids: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    personal_data: bool = False

    @classmethod
    def read(cls, form: FormData) -> TrialForm:
        return cls(
            values={name: text_field(form, name) for name in TEXT_FIELDS},
            site_ids=[v for v in form.getlist("site_ids") if isinstance(v, str)],
            partners=[v for v in form.getlist("partners") if isinstance(v, str)],
            personal_data=text_field(form, "personal_data") == "yes",
        )

    def trial(self) -> TrialCreate:
        """The trial to create; raises pydantic's ValidationError for invalid input."""
        values: dict[str, Any] = {
            name: value
            for name, value in self.values.items()
            if value.strip() or name not in _REQUIRED
        }
        return TrialCreate.model_validate(
            {
                **values,
                "site_ids": self.site_ids,
                "partners": [{"organisation_id": p} for p in self.partners],
                "personal_data": self.personal_data,
            }
        )


def _message(lang: str, error: ErrorDetails) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ())]
    text = str(error.get("msg", ""))
    if not location:
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, TrialRangeError):
            return cause.field, translate(lang, _RANGE_MESSAGES[cause.field])
        return "", text
    name = location[0]
    known = _MESSAGES.get(str(error.get("type")))
    if known is None:
        return name, text
    return name, translate(lang, known, **(error.get("ctx") or {}))


def _parsed(kind: type[int] | type[date], text: str) -> Any:
    try:
        return int(text) if kind is int else date.fromisoformat(text)
    except ValueError:
        return None


def _range_errors(typed: TrialForm) -> dict[str, str]:
    # pydantic checks the ranges only once every field is valid; a person fixing the form wants
    # to hear about all its problems at once.
    parsed = {
        name: _parsed(kind, typed.values[name].strip())
        for name, kind in _RANGE_TYPES.items()
    }
    return {e.field: _RANGE_MESSAGES[e.field] for e in trial_range_errors(parsed)}


def validation_errors(
    lang: str, exc: ValidationError, typed: TrialForm
) -> dict[str, str]:
    """One message per field, in the person's language; the first problem of a field wins."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name, message = _message(lang, error)
        errors.setdefault(name, message)
    for name, message_id in _range_errors(typed).items():
        errors.setdefault(name, translate(lang, message_id))
    return errors


def platform_errors(exc: PlatformError) -> dict[str, str]:
    """A domain error, next to the field it names, or for the whole form ("")."""
    return {exc.field or "": str(exc)}
