"""The quadruple helix: which sector each kind of organisation is in, and which sectors are active
in open trials on any day, from the trials' lifecycle in the audit trail.

Sectors (GOVERNANCE.md): public (the MOL family, other cities, regional, national and European
institutions), research (education and research), business (companies, the technology park),
society (NGOs, citizens' initiatives). A trial is open from its approval until it completes or is
withdrawn; its partners are its own organisation and the partners it lists now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from livinglab_platform.core.db import Connection
from livinglab_platform.governance.dates import end_of_day, local_date
from livinglab_platform.registry.schemas import Kind
from livinglab_platform.trials.schemas import State

__all__ = [
    "ACTIVE_STATES",
    "SECTORS",
    "SECTOR_OF",
    "CoverageHistory",
    "coverage_history",
]

SECTOR_OF: dict[Kind, str] = {
    Kind.city_administration: "public",
    Kind.public_institution: "public",
    Kind.public_company: "public",
    Kind.other_city: "public",
    Kind.regional_national: "public",
    Kind.european: "public",
    Kind.education_research: "research",
    Kind.company: "business",
    Kind.technology_park: "business",
    Kind.ngo: "society",
    Kind.citizens_initiative: "society",
}
SECTORS = ("public", "research", "business", "society")

# Open trials: approved and not yet completed, rejected or withdrawn.
ACTIVE_STATES = frozenset(
    {State.approved, State.deploying, State.running, State.evaluating}
)


@dataclass(frozen=True)
class CoverageHistory:
    """Each trial's state changes, and the sectors of its partners."""

    changes: list[tuple[datetime, int, State]]
    sectors: dict[int, frozenset[str]]

    def _states_at(self, moment: datetime) -> dict[int, State]:
        states: dict[int, State] = {}
        for time, trial_id, state in self.changes:
            if time >= moment:
                break
            states[trial_id] = state
        return states

    def at(self, day: date) -> tuple[frozenset[str], dict[int, frozenset[str]]]:
        """The sectors active at the end of `day`, and the open trials' sectors."""
        open_trials = {
            trial_id: self.sectors.get(trial_id, frozenset())
            for trial_id, state in self._states_at(end_of_day(day)).items()
            if state in ACTIVE_STATES
        }
        covered = (
            frozenset().union(*open_trials.values()) if open_trials else frozenset()
        )
        return covered, open_trials

    def first_day(self, wanted: Iterable[str]) -> date | None:
        """The first day at whose end every wanted sector was active (states change only on days
        with a transition, so those days are the only candidates)."""
        needed = frozenset(wanted)
        for day in sorted({local_date(time) for time, _, _ in self.changes}):
            if needed <= self.at(day)[0]:
                return day
        return None


def coverage_history(conn: Connection, day: date) -> CoverageHistory:
    """The trials' transitions up to the end of `day`, oldest first, and their partners' sectors."""
    changes = [
        (time, int(object_id), State(to))
        for time, object_id, to in conn.execute(
            "SELECT time, object_id, details->>'to' FROM audit_log"
            " WHERE object_type = 'trial' AND details ? 'to' AND time < %s ORDER BY time, id",
            (end_of_day(day),),
        )
    ]
    sectors: dict[int, set[str]] = defaultdict(set)
    for trial_id, kind in conn.execute(
        "SELECT t.id, o.kind FROM trials t JOIN organisations o ON o.id = t.organisation_id"
        " UNION SELECT p.trial_id, o.kind FROM trial_partners p"
        " JOIN organisations o ON o.id = p.organisation_id"
    ):
        sectors[trial_id].add(SECTOR_OF[Kind(kind)])
    return CoverageHistory(
        changes=changes, sectors={k: frozenset(v) for k, v in sectors.items()}
    )
