"""The verdict rule for every combination of the six indicators met or not."""

from __future__ import annotations

import itertools

import pytest

from livinglab_platform.governance import Verdict, verdict


@pytest.mark.parametrize("met", list(itertools.product([False, True], repeat=6)))
def test_every_combination(met):
    expected = (
        Verdict.achieved
        if sum(met) == 6
        else Verdict.not_achieved
        if sum(met) == 0
        else Verdict.partially_achieved
    )
    assert verdict(list(met)) is expected


def test_the_strategys_wording():
    assert [v.sl for v in Verdict] == [
        "Cilj je dosežen",
        "Cilj je delno dosežen",
        "Cilj ni dosežen",
    ]
    assert Verdict.partially_achieved.public().en == "The goal is partially achieved"


def test_no_indicators_no_verdict():
    with pytest.raises(ValueError, match="at least one"):
        verdict([])
