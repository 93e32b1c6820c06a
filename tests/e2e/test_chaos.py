"""`livinglab chaos`, short profile: every scenario once, every reading the sensors produced checked.

The matrix runs once for the module (one to two minutes on a loaded machine); each test reads its
JSON line. Repeats with other kill moments are the full matrix's job (`livinglab chaos --runs N`),
kept out of the suite for its length.

Broker SIGKILL may lose readings until the agent keeps batches until end-to-end receipts cover
them (issue 9): while the agent's configuration has no receipts option, that one check is an
`xfail(strict=False)`, so the report names it (xfailed, or xpassed when no batch happened to be
in the broker's hands); once the option exists, it is as strict as the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from livinglab_lab.chaos import SCENARIOS, receipts_option

SEED = 9
RUNS = 1
TIMEOUT_S = 900
RECEIPTS = receipts_option()
# The module's fixture runs the whole matrix: longer than the suite's 300 s on a loaded machine.
pytestmark = pytest.mark.timeout(TIMEOUT_S)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("chaos")
    result = subprocess.run(
        [
            sys.executable, "-m", "livinglab_platform", "chaos",
            "--runs", str(RUNS), "--seed", str(SEED), "--seconds", "3", "--agents", "1",
            "--partition-seconds", "3", "--lab-dir", str(folder / "lab"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-5000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["_exit"] = result.returncode
    summary["_output"] = result.stdout[-5000:] + result.stderr[-3000:]
    return summary


@pytest.mark.slow
def test_every_scenario_ran_and_every_component_was_killed(matrix):
    assert matrix["seed"] == SEED
    assert matrix["runs"] == RUNS * len(SCENARIOS)
    assert set(matrix["scenarios"]) == {s.name for s in SCENARIOS}
    for component in ("agent", "broker", "ingest", "postgres"):
        # Every scenario named after a component kills it at least once per run.
        killers = sum(1 for s in SCENARIOS if s.component == component)
        assert matrix["kills"][component] >= RUNS * killers, matrix["kills"]
    for name, tally in matrix["scenarios"].items():
        # Enough readings flowed through each run for a kill to land among them.
        assert tally["readings"] > 20 * RUNS, (name, tally)
    assert matrix["receipts"] == (RECEIPTS is not None)
    # The purge scenario purges, and the agent counts what it purged.
    assert matrix["scenarios"]["agent-purging"]["purged"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_nothing_duplicated_or_wrong(matrix, scenario):
    tally = matrix["scenarios"][scenario]
    assert tally["duplicated"] == 0, (tally, matrix["_output"])
    assert tally["wrong_values"] == 0, (tally, matrix["_output"])


def _lost_cases() -> list[Any]:
    cases: list[Any] = []
    for scenario in SCENARIOS:
        if scenario.component == "broker" and RECEIPTS is None:
            mark = pytest.mark.xfail(
                reason="no end-to-end receipts in this agent (issue 9): a broker killed before"
                " its autosave loses what it acknowledged",
                strict=False,
            )
            cases.append(pytest.param(scenario.name, marks=mark))
        else:
            cases.append(scenario.name)
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("scenario", _lost_cases())
def test_nothing_lost(matrix, scenario):
    tally = matrix["scenarios"][scenario]
    assert tally["lost"] == 0, (tally, matrix["_output"])


@pytest.mark.slow
def test_the_exit_status_says_whether_anything_went_wrong(matrix):
    bad = matrix["lost"] or matrix["duplicated"] or matrix["wrong_values"]
    assert matrix["_exit"] == (1 if bad else 0), matrix["_output"]
