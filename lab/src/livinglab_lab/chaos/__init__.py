"""`livinglab chaos`: the crash matrix, every reading the sensors produced checked against the database.

journal.py is the ground truth (and why it cannot be fooled), agent.py the journaled agent,
proxy.py the network partition, lab.py the services that are killed and started again,
scenarios.py what goes wrong and when, check.py the comparison, run.py the matrix and its report.
"""

from livinglab_lab.chaos.run import (
    exit_status,
    print_json,
    receipts_option,
    run_chaos,
)
from livinglab_lab.chaos.scenarios import SCENARIOS, Profile

__all__ = [
    "SCENARIOS",
    "Profile",
    "exit_status",
    "print_json",
    "receipts_option",
    "run_chaos",
]
