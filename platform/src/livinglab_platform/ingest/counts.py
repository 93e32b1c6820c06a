"""What the writers did, counted: the one record the service, its stats and its logs add up."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["GroupResult"]


@dataclass
class GroupResult:
    """What one group (or several, added up) did."""

    readings: int = 0
    batches: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantined_readings: int = 0
    statuses: int = 0
    events: int = 0
    newest_us: int | None = None

    def add(self, other: GroupResult) -> None:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "newest_us":
                if theirs is not None and (mine is None or theirs > mine):
                    self.newest_us = theirs
            else:
                setattr(self, f.name, mine + theirs)
