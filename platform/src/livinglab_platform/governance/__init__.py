"""The governance record (organisational forms, the Strategic Council, co-financed applications,
evidence) and what is computed from it: the strategy's indicators per year, the verdict, the lab's
own indicators, and the milestone "a working living lab"."""

from livinglab_platform.governance.indicators import indicators, lab_indicators
from livinglab_platform.governance.milestone import (
    MilestoneCriteria,
    checklist,
    milestone,
    milestone_criteria,
)
from livinglab_platform.governance.verdict import Verdict, verdict

__all__ = [
    "MilestoneCriteria",
    "Verdict",
    "checklist",
    "indicators",
    "lab_indicators",
    "milestone",
    "milestone_criteria",
    "verdict",
]
