"""What an audit entry changed, in words: the action and its subject (which device, for which
period; which organisation; from which state to which), in the page's language.

The audit trail stores the subject in each entry's `details` (audit.record); a line that named
only the action ("dodelitev naprave" three times) would not say which device each one was.
"""

from __future__ import annotations

from datetime import datetime

from livinglab_platform.audit import AuditEntryPublic
from livinglab_platform.core.formatting import Formats
from livinglab_platform.web.i18n import translate

__all__ = ["audit_line"]


def _moment(formats: Formats, value: object) -> str:
    if not isinstance(value, str):
        return formats.moment(None)
    try:
        return formats.moment(datetime.fromisoformat(value))
    except ValueError:
        return value


def _period(formats: Formats, details: dict[str, object]) -> str:
    if "starts_at" not in details:
        return ""
    start = _moment(formats, details["starts_at"])
    return f" ({start} \u2013 {_moment(formats, details.get('ends_at'))})"


def audit_line(entry: AuditEntryPublic, lang: str) -> str:
    """`dodelitev naprave tp-air-01 (5. 12. 2026 00:00 (CET) to 20. 12. 2026 00:00 (CET))`, the
    dash an en dash."""
    formats = Formats(lang)
    details = entry.details
    action = translate(lang, f"audit.{entry.action}")
    if entry.action in ("assign_device", "unassign_device"):
        return f"{action} {details.get('device_id', '')}{_period(formats, details)}"
    if entry.action == "grant":
        organisation = details.get("organisation_id", "")
        return f"{action}: {organisation}{_period(formats, details)}"
    if entry.action == "revoke_grant":
        return f"{action} #{details.get('grant_id', '')}"
    if entry.action == "create" and "title" in details:
        return translate(lang, "audit.created", title=details["title"])
    if entry.action == "update" and details:
        fields = ", ".join(translate(lang, f"field.{name}") for name in details)
        return f"{action}: {fields}"
    if "from" in details and "to" in details:
        before = translate(lang, f"state.{details['from']}")
        after = translate(lang, f"state.{details['to']}")
        return f"{action} ({before} → {after})"
    return action
