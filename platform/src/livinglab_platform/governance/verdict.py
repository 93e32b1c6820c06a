"""The goal's verdict for a year, by the strategy's rule, written once (GOVERNANCE.md):

- "Cilj je dosežen" (achieved) when every indicator is met;
- "Cilj je delno dosežen" (partially achieved) when at least one is met and at least one is not;
- "Cilj ni dosežen" (not achieved) when none is.

An indicator met only by self-reported evidence is still met; the indicator says so itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from livinglab_platform.governance.schemas import VerdictPublic

__all__ = ["RULE", "Verdict", "verdict"]

RULE = (
    "achieved when every indicator is met; partially achieved when at least one is met and at"
    " least one is not; not achieved when none is"
)


class Verdict(StrEnum):
    achieved = "achieved"
    partially_achieved = "partially_achieved"
    not_achieved = "not_achieved"

    @property
    def sl(self) -> str:
        """The strategy's own wording."""
        return _SL[self]

    @property
    def en(self) -> str:
        return _EN[self]

    def public(self) -> VerdictPublic:
        return VerdictPublic(key=self.value, sl=self.sl, en=self.en, rule=RULE)


_SL = {
    Verdict.achieved: "Cilj je dosežen",
    Verdict.partially_achieved: "Cilj je delno dosežen",
    Verdict.not_achieved: "Cilj ni dosežen",
}
_EN = {
    Verdict.achieved: "The goal is achieved",
    Verdict.partially_achieved: "The goal is partially achieved",
    Verdict.not_achieved: "The goal is not achieved",
}


def verdict(met: Sequence[bool]) -> Verdict:
    """The verdict over the indicators' `met`; there must be at least one indicator."""
    if not met:
        raise ValueError("a verdict needs at least one indicator")
    if all(met):
        return Verdict.achieved
    if any(met):
        return Verdict.partially_achieved
    return Verdict.not_achieved
