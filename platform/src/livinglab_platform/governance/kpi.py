"""The year's indicators, the goal's verdict and the milestone as FIWARE Smart Data Models
`KeyPerformanceIndicator` entities, in NGSI-LD's normalised form (every attribute a Property).

The attributes follow the model's schema (dataModel.KeyPerformanceIndicator, schema 0.2.1):
`kpiValue`, `calculationPeriod` (from, to: the year so far), `calculationFrequency` yearly,
`calculationMethod` automatic, `calculationFormula` (the rule in words, GOVERNANCE.md),
`currentStanding`, `category` (the indicator's type after Huovila et al. 2019, and quantitative
or qualitative), `organization`, `calculatedBy`, `businessTarget`, `source`. The tests validate
every entity against the model's JSON Schema (tests/governance/schemas/).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.governance.indicators import indicators
from livinglab_platform.governance.milestone import milestone
from livinglab_platform.governance.schemas import IndicatorPublic, IndicatorsPublic
from livinglab_platform.governance.verdict import Verdict

__all__ = ["CONTEXT", "ENTITY_TYPE", "MEDIA_TYPE", "kpi_entities", "standing"]

ENTITY_TYPE = "KeyPerformanceIndicator"
MEDIA_TYPE = "application/ld+json"
# The NGSI-LD core context and the model's own, as the model's normalised example names them.
CONTEXT = [
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://raw.githubusercontent.com/smart-data-models/dataModel.KeyPerformanceIndicator/master/context.jsonld",
]
ORGANIZATION = "Mestna občina Ljubljana"
PROCESS = "Digitalno mesto in skupnost (MOL's digital strategy)"
CALCULATED_BY = "livinglab (Ljubljana living lab platform)"

# What each indicator counts, in words (GOVERNANCE.md is the longer version).
FORMULAS = {
    "mol_family_form": "count of organisational forms of kind mol_family active in the year with at least two members of the MOL family; met when >= 1",
    "horizontal_link": "count of horizontal forms active in the year with a member of kind other_city or european; met when >= 1",
    "vertical_link": "count of vertical forms active in the year with a member of kind regional_national; met when >= 1",
    "council_meetings": "count of Strategic Council meetings whose Ljubljana date falls in the year; met when >= 1",
    "applications_submitted": "count of co-financed applications whose submission date falls in the year (a later withdrawal does not undo it); met when >= 3",
    "working_living_lab": "count of the milestone's criteria met as of the year's last day (or today); met when all are",
}
MILESTONE_FORMULA = (
    "the milestone 'a working living lab': every criterion of its configuration met as of the"
    " date; kpiValue lists each criterion's state"
)


def standing(indicator: IndicatorPublic) -> str:
    """The schema's `currentStanding`: met on documented evidence veryGood, met only on
    self-reported evidence good, part of the target fair, nothing veryBad."""
    if indicator.met:
        return "good" if indicator.self_reported_only else "veryGood"
    return "fair" if indicator.value > 0 else "veryBad"


def _normalised(entity_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """An entity in NGSI-LD's normalised form: each attribute wrapped as a Property."""
    return {
        "id": entity_id,
        "type": ENTITY_TYPE,
        **{
            key: {"type": "Property", "value": value}
            for key, value in values.items()
            if value is not None
        },
        "@context": CONTEXT,
    }


def _common(found: IndicatorsPublic, source: str) -> dict[str, Any]:
    in_progress = found.as_of < date(found.year, 12, 31)
    return {
        "calculationPeriod": {
            "from": date(found.year, 1, 1).isoformat(),
            "to": found.as_of.isoformat(),
        },
        "calculationFrequency": "yearly",
        "calculationMethod": "automatic",
        "organization": ORGANIZATION,
        "process": PROCESS,
        "calculatedBy": CALCULATED_BY,
        "source": source,
        # A year in progress is computed again every day; a closed year only if its record changes.
        "dateNextCalculation": (found.as_of + timedelta(days=1)).isoformat()
        if in_progress
        else None,
        "area": "Ljubljana",
    }


def _indicator_entity(
    found: IndicatorsPublic, indicator: IndicatorPublic, source: str
) -> dict[str, Any]:
    return _normalised(
        f"urn:ngsi-ld:{ENTITY_TYPE}:ljubljana:{indicator.key}:{found.year}",
        {
            "name": indicator.name,
            "alternateName": indicator.name_sl,
            "description": f"{indicator.name} in {found.year}: {indicator.value} of"
            f" {indicator.target} ({indicator.target_text})"
            + (
                ", met only on self-reported evidence"
                if indicator.self_reported_only
                else ""
            ),
            "category": [indicator.type, "quantitative"],
            "kpiValue": indicator.value,
            "currentStanding": standing(indicator),
            "calculationFormula": FORMULAS[indicator.key],
            "businessTarget": indicator.target_text,
            **_common(found, source),
        },
    )


_VERDICT_STANDING = {
    Verdict.achieved: "veryGood",
    Verdict.partially_achieved: "fair",
    Verdict.not_achieved: "veryBad",
}


def _verdict_entity(found: IndicatorsPublic, source: str) -> dict[str, Any]:
    return _normalised(
        f"urn:ngsi-ld:{ENTITY_TYPE}:ljubljana:goal_verdict:{found.year}",
        {
            "name": "the goal 'digital city and community': the year's verdict",
            "alternateName": found.verdict.sl,
            "description": found.verdict.en,
            "category": ["lagging", "qualitative"],
            "kpiValue": found.verdict.key,
            "currentStanding": _VERDICT_STANDING[Verdict(found.verdict.key)],
            "calculationFormula": found.verdict.rule,
            "businessTarget": "every indicator met: Cilj je dosežen",
            **_common(found, source),
        },
    )


def _milestone_entity(
    conn: Connection, principal: Principal, found: IndicatorsPublic, source: str
) -> dict[str, Any]:
    state = milestone(conn, principal, as_of=found.as_of)
    met = sum(c.met for c in state.criteria)
    return _normalised(
        f"urn:ngsi-ld:{ENTITY_TYPE}:ljubljana:milestone:{found.as_of.isoformat()}",
        {
            "name": "milestone: a working living lab",
            "alternateName": "delujoč živi laboratorij",
            "description": f"{met} of {len(state.criteria)} criteria met as of {state.as_of}",
            "category": ["output", "qualitative"],
            "kpiValue": {
                "achieved": state.achieved,
                "criteria": {
                    c.key: {
                        "met": c.met,
                        "value": c.value,
                        "firstMetOn": c.first_met_on.isoformat()
                        if c.first_met_on
                        else None,
                        "missing": c.missing,
                    }
                    for c in state.criteria
                },
            },
            "currentStanding": "veryGood" if state.achieved else "bad",
            "calculationFormula": MILESTONE_FORMULA,
            "businessTarget": "a working living lab by 2025-12-31",
            **_common(found, source),
        },
    )


def kpi_entities(
    conn: Connection, principal: Principal, *, year: int, source: str | None = None
) -> list[dict[str, Any]]:
    """The year's strategy indicators, its verdict and the milestone as of the year's last day
    (or today), as normalised NGSI-LD `KeyPerformanceIndicator` entities.

    Args:
        source: where the data comes from, a URL when there is one (the API's address).
    """
    found = indicators(conn, principal, year=year)
    origin = source or f"urn:livinglab:governance:indicators:{year}"
    return [
        *(_indicator_entity(found, i, origin) for i in found.indicators),
        _verdict_entity(found, origin),
        _milestone_entity(conn, principal, found, origin),
    ]
