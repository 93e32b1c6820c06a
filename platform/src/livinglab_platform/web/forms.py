"""The trial registration form: what a person typed, turned into a TrialCreate or field messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from livinglab_platform.core.errors import PlatformError
from livinglab_platform.trials.schemas import TrialCreate
from livinglab_platform.web.i18n import translate
from livinglab_platform.web.session import field as text_field

__all__ = ["TEXT_FIELDS", "TrialForm", "platform_errors", "validation_errors"]

TEXT_FIELDS = (
    "title",
    "technology",
    "technology_description",
    "trl_start",
    "trl_target",
    "starts_on",
    "ends_on",
    "success_criteria",
    "data_sharing_terms",
)
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
}
# The whole-form checks of TrialCreate, placed next to the field a person would change.
_MODEL_CHECKS = {
    "trl_target": ("trl_target", "error.trl_order"),
    "ends_on": ("ends_on", "error.date_order"),
}
# Domain errors name the field they are about at their end: "... does not exist (site_ids)".
_FIELD_SUFFIX = re.compile(r"\(([a-z_]+)\)$")


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
        for needle, (name, message_id) in _MODEL_CHECKS.items():
            if needle in text:
                return name, translate(lang, message_id)
        return "", text
    name = location[0]
    if "control characters" in text:
        return name, translate(lang, "error.control")
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
    errors = {}
    for low, high, message_id, kind in (
        ("trl_start", "trl_target", "error.trl_order", int),
        ("starts_on", "ends_on", "error.date_order", date),
    ):
        first, last = (_parsed(kind, typed.values[n].strip()) for n in (low, high))
        if first is not None and last is not None and last < first:
            errors[high] = message_id
    return errors


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
    text = str(exc)
    match = _FIELD_SUFFIX.search(text)
    return {match.group(1) if match else "": text}
