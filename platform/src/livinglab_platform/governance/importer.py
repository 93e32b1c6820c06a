"""Import an existing governance record from CSV or YAML files, one file per record kind,
all or nothing: the caller's unit of work commits only when every row of every file is taken.

Each row is validated by the record's own `...Create` schema and written by the same domain
functions as the API and the CLI (so the same rules hold and the audit trail names the operator).
Files are taken in the order forms, members, meetings, applications, evidence, so a meeting can
name members and evidence the records imported with it. A refused row does not stop the others
from being checked: up to MAX_PROBLEMS problems are reported, each naming file, row and field
(`applications.csv, row 4, field total_budget: ...`), and then nothing is written. The columns
are tabled in the top-level README ("Importing an existing record").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pydantic

from livinglab_platform.access import Principal, require_record_keeper
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import PlatformError, RecordImportError
from livinglab_platform.core.schema import Moment
from livinglab_platform.governance import applications, council, evidence, forms
from livinglab_platform.governance.dates import local_date
from livinglab_platform.governance.schemas import (
    ApplicationCreate,
    CouncilMemberCreate,
    EvidenceCreate,
    FormCreate,
    MeetingCreate,
    RecordKind,
)
from livinglab_platform.governance.sheets import Row, SheetError, read_rows

__all__ = ["MAX_PROBLEMS", "ImportKind", "import_files", "kind_of"]

MAX_PROBLEMS = 20


class ImportKind(StrEnum):
    """The kinds of import file, in the order they are taken."""

    forms = "forms"
    members = "members"
    meetings = "meetings"
    applications = "applications"
    evidence = "evidence"


_ORDER = list(ImportKind)


class _CellError(Exception):
    """A cell that cannot be turned into the schema's value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def kind_of(path: Path, kind: ImportKind | None = None) -> ImportKind:
    """The file's kind: as given, or its name without the suffix (`applications.csv`)."""
    if kind is not None:
        return kind
    try:
        return ImportKind(path.stem.lower())
    except ValueError:
        names = ", ".join(k.value for k in ImportKind)
        raise RecordImportError(
            f"{path.name}: name the kind with --kind ({names}), or name the file after it",
            field="kind",
        ) from None


def _items(value: Any, field: str, *, lines: bool = False) -> list[Any]:
    """A list cell: a YAML list, or text split on `;` (on line breaks when `lines`)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        parts = value.splitlines() if lines else value.split(";")
        return [p.strip() for p in parts if p.strip()]
    raise _CellError(field, "must be a list")


def _pairs(value: Any, field: str, keys: tuple[str, str]) -> list[Any]:
    """`ORG[:ROLE]` items as mappings; mappings pass through to the schema."""
    return [
        dict(zip(keys, (p.strip() for p in item.split(":", 1)), strict=False))
        if isinstance(item, str)
        else item
        for item in _items(value, field)
    ]


def _history(value: Any) -> list[Any]:
    """`STATUS:DATE[:NOTE]` items (oldest first) as mappings."""
    entries = []
    for item in _items(value, "status_history"):
        if isinstance(item, str):
            parts = [p.strip() for p in item.split(":", 2)]
            entries.append(dict(zip(("status", "on", "note"), parts, strict=False)))
        else:
            entries.append(item)
    return entries


def _decisions(value: Any) -> list[Any]:
    """`KIND: TEXT` items, one per line in a CSV cell (texts may hold semicolons)."""
    found = []
    for item in _items(value, "decisions", lines=True):
        if isinstance(item, str):
            kind, colon, text = item.partition(":")
            if not colon:
                raise _CellError("decisions", f"{item!r} is not KIND: TEXT")
            found.append({"kind": kind.strip(), "text": text.strip()})
        else:
            found.append(item)
    return found


def _one(matches: list[int], field: str, what: str) -> int:
    """The one id found; a cell naming none or several is refused."""
    if not matches:
        raise _CellError(field, f"no {what}")
    if len(matches) > 1:
        raise _CellError(field, f"{len(matches)} records match ({what}); give the id")
    return matches[0]


_MOMENT: pydantic.TypeAdapter[datetime] = pydantic.TypeAdapter(Moment)


def _attendees(
    conn: Connection, principal: Principal, values: dict[str, Any]
) -> list[Any]:
    """Member names (or ids) as the ids of members in office on the meeting's date."""
    names = _items(values.pop("attendees", []), "attendees")
    try:
        day = local_date(_MOMENT.validate_python(values.get("held_at")))
    except pydantic.ValidationError:
        return []  # the schema names held_at
    members = council.list_members(conn, principal)
    ids = []
    for name in names:
        if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
            ids.append(int(name))
            continue
        in_office = [
            m.id
            for m in members
            if m.name == str(name)
            and m.term_starts_on <= day
            and (m.term_ends_on is None or m.term_ends_on >= day)
        ]
        ids.append(
            _one(in_office, "attendees", f"council member {name!r} in office on {day}")
        )
    return ids


def _record_id(conn: Connection, principal: Principal, record: Any, key: Any) -> int:
    """A record's id from its id or its key: a form's name, a meeting's date, an application's
    acronym (or its title)."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return int(key)
    text = str(key)
    if record == RecordKind.form.value:
        found = [f.id for f in forms.list_forms(conn, principal) if f.name == text]
        return _one(found, "record_key", f"form named {text!r}")
    if record == RecordKind.meeting.value:
        meetings = council.list_meetings(conn, principal)
        found = [m.id for m in meetings if m.held_on.isoformat() == text]
        return _one(found, "record_key", f"meeting held on {text}")
    if record == RecordKind.application.value:
        every = applications.list_applications(conn, principal)
        found = [a.id for a in every if a.acronym == text] or [
            a.id for a in every if a.title == text
        ]
        return _one(found, "record_key", f"application with acronym or title {text!r}")
    raise _CellError("record", "must be form, meeting or application")


def _form(conn: Connection, principal: Principal, values: dict[str, Any]) -> None:
    values["members"] = _pairs(
        values.get("members", []), "members", ("organisation_id", "role")
    )
    forms.create_form(conn, principal, form=FormCreate.model_validate(values))


def _member(conn: Connection, principal: Principal, values: dict[str, Any]) -> None:
    council.add_member(
        conn, principal, member=CouncilMemberCreate.model_validate(values)
    )


def _meeting(conn: Connection, principal: Principal, values: dict[str, Any]) -> None:
    values["attendee_ids"] = _attendees(conn, principal, values)
    values["decisions"] = _decisions(values.get("decisions", []))
    council.create_meeting(
        conn, principal, meeting=MeetingCreate.model_validate(values)
    )


def _application(
    conn: Connection, principal: Principal, values: dict[str, Any]
) -> None:
    values["partners"] = _pairs(
        values.get("partners", []), "partners", ("organisation_id", "role")
    )
    values["trial_ids"] = _items(values.get("trial_ids", []), "trial_ids")
    values["status_history"] = _history(values.get("status_history", []))
    applications.create_application(
        conn, principal, application=ApplicationCreate.model_validate(values)
    )


def _evidence(conn: Connection, principal: Principal, values: dict[str, Any]) -> None:
    if "record_key" not in values:
        raise _CellError("record_key", "the record's id or key is required")
    values["record_id"] = _record_id(
        conn, principal, values.get("record"), values.pop("record_key")
    )
    evidence.add_evidence(
        conn, principal, evidence=EvidenceCreate.model_validate(values)
    )


_WRITERS: dict[ImportKind, Callable[[Connection, Principal, dict[str, Any]], None]] = {
    ImportKind.forms: _form,
    ImportKind.members: _member,
    ImportKind.meetings: _meeting,
    ImportKind.applications: _application,
    ImportKind.evidence: _evidence,
}
# Where a schema's field has another name in the file.
_COLUMN = {"attendee_ids": "attendees", "record_id": "record_key"}


def _column(location: Sequence[int | str]) -> str | None:
    if not location:
        return None
    head = _COLUMN.get(str(location[0]), str(location[0]))
    return ".".join([head, *(str(p) for p in location[1:])])


@dataclass(frozen=True)
class _Problem:
    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}"


def _take(
    conn: Connection, principal: Principal, kind: ImportKind, name: str, row: Row
) -> _Problem | None:
    """Write one row in a savepoint of its own; its problem, if it is refused."""
    try:
        with conn.transaction():
            _WRITERS[kind](conn, principal, dict(row.values))
    except _CellError as exc:
        return _Problem(name, row.number, exc.field, str(exc))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        return _Problem(name, row.number, _column(first["loc"]), message)
    except PlatformError as exc:
        field = _column(exc.field.split(".")) if exc.field else None
        return _Problem(name, row.number, field, str(exc))
    return None


def import_files(
    conn: Connection,
    principal: Principal,
    *,
    files: Sequence[tuple[Path, ImportKind]],
) -> dict[ImportKind, int]:
    """Import every row of the files (operators); the rows taken, by kind. Raises
    RecordImportError naming each refused row; the caller's unit of work then writes nothing."""
    require_record_keeper(principal, "import the governance record")
    problems: list[_Problem] = []
    taken = dict.fromkeys(ImportKind, 0)
    for path, kind in sorted(files, key=lambda f: _ORDER.index(f[1])):
        try:
            rows = read_rows(path)
        except SheetError as exc:
            problems.append(_Problem(path.name, exc.row, None, str(exc)))
            continue
        for row in rows:
            problem = _take(conn, principal, kind, path.name, row)
            if problem is None:
                taken[kind] += 1
            else:
                problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                break
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        more = (
            " (and perhaps more: the import stopped there)"
            if len(problems) >= MAX_PROBLEMS
            else ""
        )
        raise RecordImportError(
            "\n".join(str(p) for p in problems) + more + "\nnothing was imported",
            field=problems[0].field,
        )
    return taken
