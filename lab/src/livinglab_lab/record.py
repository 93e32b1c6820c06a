"""The demo's governance record, 2022-2026: organisational forms, the Strategic Council's members
and meetings, co-financed applications and their evidence, entered through the domain functions
by the lab's operator, as she would at the terminal.

Invented for the demo, though shaped on the public picture: MOL's digital strategy, its indicators
and the programmes named are real, and Living-in.EU and ENoLL exist; the forms, council members,
meetings, decisions, applications, budgets, dates and document links are not MOL's record (the
links point at `evidence.livinglab.example`). The verdicts differ by year, and why is in the data:

- 2022: "Cilj ni dosežen": the council is appointed in November but does not meet; the only
  partnership is a letter of intent; the first application is still being prepared.
- 2023: "Cilj je delno dosežen": the MOL-family group, the Maribor partnership, the ARSO agreement
  and two council sessions, but only two applications submitted (three are the target).
- 2024: "Cilj je delno dosežen": every strategy indicator met (the only council session's minutes
  are a statement, so that one is met on self-reported evidence), the lab not yet working.
- 2025: "Cilj je delno dosežen": every strategy indicator met on documents; the living-lab
  partnership is signed in March, but the milestone is judged from live operations, and the
  demo's lab first runs the day you start it, so as of 2025-12-31 it has no data, trials or
  operator yet (`livinglab governance milestone --as-of 2025-12-31` lists what is missing).
- 2026 (as of today): every strategy indicator met (the third application only on a statement,
  so "self-reported"); with the demo running, the milestone too: "Cilj je dosežen".

Every step skips what exists (forms by name, members by name and term, meetings by time,
applications by acronym, evidence by record and title), so seeding again adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
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

__all__ = ["APPLICATIONS", "FORMS", "MEETINGS", "MEMBERS", "seed_record"]

DOCS = "https://evidence.livinglab.example"


@dataclass(frozen=True)
class Proof:
    """Evidence for a record: a link (documented; `verified` once the operator checked it) or,
    without one, a statement (self-reported)."""

    title: str
    url: str | None = None
    statement: str = ""
    verified: bool = False


@dataclass(frozen=True)
class FormSeed:
    kind: str
    name: str
    description: str
    period: tuple[date, date | None]
    members: tuple[tuple[str, str], ...]
    proof: tuple[Proof, ...] = ()


FORMS = (
    FormSeed("living_lab_partnership", "Pismo o nameri: živi laboratorij Ljubljana", "Letter of intent of the city, the Faculty of Electrical Engineering and the technology park to set up a living lab; replaced by the partnership agreement.", (date(2022, 6, 1), date(2025, 2, 28)), (("mol", "city"), ("ul-fe", "educational institution"), ("tpl", "technology park")), (Proof("Letter of intent", statement="Signed copies kept by the mayor's office; not scanned."),)),
    FormSeed("mol_family", "Digitalna Ljubljana: koordinacija velike družine MOL", "Coordination group of the city administration, its public institution and public companies for shared data and digital services.", (date(2023, 2, 1), None), (("mol", "lead"), ("energetika-lj", "member"), ("voka-snaga", "member"), ("turizem-lj", "member")), (Proof("Mayor's decision establishing the group", f"{DOCS}/2023/sklep-koordinacija.pdf", verified=True),)),
    FormSeed("horizontal", "Partnerstvo Ljubljana-Maribor za replikacijo pilotov", "Maribor replicates trials that succeed in Ljubljana; ended when Maribor joined Living-in.EU on its own.", (date(2023, 5, 1), date(2024, 6, 30)), (("mol", "lead"), ("mo-maribor", "replication city")), (Proof("Memorandum of understanding", f"{DOCS}/2023/mou-maribor.pdf"),)),
    FormSeed("vertical", "Dogovor o izmenjavi podatkov o kakovosti zraka MOL-ARSO", "The national environment agency shares its reference stations' data for calibrating the lab's sensors.", (date(2023, 9, 1), None), (("mol", "data user"), ("arso", "reference data")), (Proof("Data-sharing agreement", f"{DOCS}/2023/dogovor-arso.pdf", verified=True),)),
    FormSeed("horizontal", "Living-in.EU", "The European movement for digital transformation the 'EU way' (Eurocities, OASC, ENoLL); MOL's signature is invented for the demo.", (date(2024, 2, 1), None), (("mol", "signatory"), ("enoll", "co-initiator of the movement")), (Proof("Signed declaration", f"{DOCS}/2024/living-in-eu-declaration.pdf", verified=True),)),
    FormSeed("living_lab_partnership", "Sporazum o partnerstvu: Živi laboratorij Ljubljana", "The living lab's partnership agreement: the city hosts, the faculties research, the technology park runs it.", (date(2025, 3, 1), None), (("mol", "host city"), ("ul-fe", "educational institution"), ("ul-fri", "educational institution"), ("tpl", "operator")), (Proof("Signed partnership agreement", f"{DOCS}/2025/sporazum-zivi-laboratorij.pdf", verified=True),)),
)  # fmt: skip

# (name, organisation, role, term start, term end)
MEMBERS = (
    ("Mojca Zupančič", "mol", "chair", date(2022, 11, 15), None),
    ("Tomaž Kos", "mol", "secretary", date(2022, 11, 15), None),
    ("Peter Golob", "energetika-lj", "member", date(2022, 11, 15), date(2024, 6, 30)),
    ("Katja Hribar", "voka-snaga", "member", date(2024, 7, 1), None),
    ("Marko Zajc", "ul-fe", "member", date(2022, 11, 15), None),
    ("Maja Kovač", "tpl", "member, the living lab's operator", date(2023, 1, 1), None),
    ("Urška Kralj", "focus", "member for civil society", date(2024, 1, 1), None),
)  # fmt: skip


@dataclass(frozen=True)
class MeetingSeed:
    held_at: datetime
    agenda: str
    decisions: tuple[tuple[str, str], ...]
    proof: tuple[Proof, ...] = ()
    place: str = "Mestna hiša, Ljubljana"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


MEETINGS = (
    MeetingSeed(_at("2023-03-14T13:00+01:00"), "1st session: the council's rules; directions of the digital ecosystem", (("strategic", "Adopt the strategic directions of the digital ecosystem 2023-2027"),), (Proof("Minutes of the 1st session", f"{DOCS}/2023/zapisnik-1.pdf", verified=True),)),
    MeetingSeed(_at("2023-10-17T13:00+02:00"), "2nd session: open data", (("programme", "City datasets are published on the open data portal first"),), (Proof("Minutes of the 2nd session", f"{DOCS}/2023/zapisnik-2.pdf"),)),
    MeetingSeed(_at("2024-05-21T13:00+02:00"), "3rd session: the living lab's model", (("programme", "Prepare a partnership agreement for the living lab with the faculties and the technology park"),), (Proof("Minutes of the 3rd session", statement="Minutes being prepared by the secretariat."),)),
    MeetingSeed(_at("2025-03-18T13:00+01:00"), "4th session: the living lab's partnership", (("strategic", "Approve the living lab's partnership agreement"),), (Proof("Minutes of the 4th session", f"{DOCS}/2025/zapisnik-4.pdf", verified=True),)),
    MeetingSeed(_at("2025-12-16T13:00+01:00"), "5th session: programme for 2026", (("programme", "Directions for 2026: data spaces and procurement of successful pilots"),), (Proof("Minutes of the 5th session", f"{DOCS}/2025/zapisnik-5.pdf"),)),
    MeetingSeed(_at("2026-04-14T13:00+02:00"), "6th session: the first year of the living lab", (("strategic", "Keep the living lab as a permanent service of the city"),), (Proof("Minutes of the 6th session", f"{DOCS}/2026/zapisnik-6.pdf"),)),
    MeetingSeed(_at("2026-11-17T13:00+01:00"), "7th session: report on the goal 'digital city and community'", (("programme", "Report the indicators to the city council from the platform's data"),)),
)  # fmt: skip


@dataclass(frozen=True)
class ApplicationSeed:
    programme: str
    call: str
    title: str
    acronym: str
    mol_role: str
    budget: tuple[str, str]  # total, MOL's share (EUR)
    partners: tuple[tuple[str, str], ...]
    history: tuple[tuple[str, date, str], ...]
    proof: tuple[Proof, ...] = ()
    funds_running_trial: bool = False


APPLICATIONS = (
    ApplicationSeed("Horizon Europe", "HORIZON-MISS-2023-CIT-01", "Citizen sensing for climate-neutral neighbourhoods", "NEIGHBOURSENSE", "partner", ("4850000.00", "312500.00"), (("ul-fe", "coordinator"), ("focus", "citizen engagement")), (("in_preparation", date(2022, 10, 3), ""), ("submitted", date(2023, 1, 24), ""), ("rejected", date(2023, 6, 30), "below the threshold on impact")), (Proof("Submission receipt", f"{DOCS}/2023/receipt-neighboursense.pdf"),)),
    ApplicationSeed("Interreg Central Europe", "CE-2023-2", "Data-driven air-quality management in Central European cities", "AIRCE", "partner", ("2100000.00", "184000.00"), (("mo-maribor", "partner"), ("arso", "associated")), (("submitted", date(2023, 6, 6), ""), ("granted", date(2024, 1, 18), "")), (Proof("Subsidy contract", f"{DOCS}/2024/subsidy-contract-airce.pdf", verified=True),), funds_running_trial=True),
    ApplicationSeed("Digital Europe", "DIGITAL-2024-DEPLOY-TWINS", "Local digital twin of Ljubljana's old town", "LDT-LJ", "coordinator", ("3000000.00", "900000.00"), (("ul-fri", "partner"), ("tpl", "partner")), (("in_preparation", date(2023, 11, 2), ""), ("submitted", date(2024, 3, 26), ""), ("granted", date(2024, 9, 18), "")), (Proof("Grant agreement", f"{DOCS}/2024/grant-ldt-lj.pdf", verified=True),)),
    ApplicationSeed("National scheme (Ministry of Digital Transformation)", "JR-PMS-2024", "Smart parking around the old town", "PARK-LJ", "coordinator", ("420000.00", "126000.00"), (("parkirko", "technology provider"),), (("submitted", date(2024, 5, 10), ""), ("rejected", date(2024, 8, 30), "")), (Proof("Submission receipt", f"{DOCS}/2024/receipt-park-lj.pdf"),)),
    ApplicationSeed("LIFE", "LIFE-2024-SAP-CLIMA-CCA", "Cool streets: nature-based cooling measured by sensors", "COOLSTREETS", "coordinator", ("1650000.00", "495000.00"), (("ul-fe", "partner"), ("zeleni-trnovo", "residents")), (("submitted", date(2024, 9, 19), ""), ("withdrawn", date(2024, 11, 5), "withdrawn after submission: co-financing not secured")), (Proof("Submission receipt", f"{DOCS}/2024/receipt-coolstreets.pdf"),)),
    ApplicationSeed("Horizon Europe", "HORIZON-CL5-2025-D4-01", "Positive energy district pilots", "PED-LJ", "partner", ("5200000.00", "410000.00"), (("energetika-lj", "partner"), ("ul-fe", "partner")), (("submitted", date(2025, 2, 19), ""), ("granted", date(2025, 7, 29), "")), (Proof("Grant agreement", f"{DOCS}/2025/grant-ped-lj.pdf", verified=True),)),
    ApplicationSeed("CEF Digital", "CEF-DIG-2025-5GSMARTCOM", "5G for smart public services", "5G-LJ", "partner", ("2400000.00", "360000.00"), (("tpl", "partner"),), (("submitted", date(2025, 4, 15), ""), ("rejected", date(2025, 9, 12), "")), (Proof("Submission receipt", f"{DOCS}/2025/receipt-5g-lj.pdf"),)),
    ApplicationSeed("Interreg Alpine Space", "ASP-2025-4", "Living labs for Alpine cities", "ALPLABS", "associated", ("1800000.00", "0.00"), (("enoll", "partner"),), (("submitted", date(2025, 6, 3), ""),), (Proof("Submission receipt", f"{DOCS}/2025/receipt-alplabs.pdf"),)),
    ApplicationSeed("Horizon Europe", "HORIZON-MISS-2026-CIT-02", "Net-zero districts with their residents", "NZD-LJ", "partner", ("3900000.00", "280000.00"), (("ul-fri", "partner"), ("focus", "partner")), (("submitted", date(2026, 1, 27), ""), ("granted", date(2026, 7, 15), "")), (Proof("Grant agreement", f"{DOCS}/2026/grant-nzd-lj.pdf"),)),
    ApplicationSeed("Interreg Europe", "IE-2026-5", "Data spaces for municipalities", "MUNIDATA", "partner", ("1500000.00", "165000.00"), (("mo-maribor", "partner"),), (("submitted", date(2026, 5, 20), ""),), (Proof("Submission receipt", f"{DOCS}/2026/receipt-munidata.pdf"),)),
    ApplicationSeed("LIFE", "LIFE-2026-SAP-CLIMA", "Heat-resilient neighbourhoods", "HEAT-LJ", "coordinator", ("1250000.00", "375000.00"), (("ul-fe", "partner"), ("zeleni-trnovo", "residents")), (("submitted", date(2026, 9, 24), ""),), (Proof("Submission receipt", statement="Confirmation e-mail from the agency; not archived."),)),
    ApplicationSeed("Digital Europe", "DIGITAL-2027-AI", "AI for the city's services", "AICITY", "coordinator", ("2000000.00", "600000.00"), (("ul-fri", "partner"),), (("in_preparation", date(2026, 10, 1), ""),)),
)  # fmt: skip

# The running trial of seed.TRIALS, which AIRCE funds.
FUNDED_TRIAL = "Urban sensing network: air, particulate matter and noise"


def _prove(
    conn: Connection,
    operator: Principal,
    record: RecordKind,
    record_id: int,
    proofs: tuple[Proof, ...],
    have: set[str],
) -> None:
    for proof in proofs:
        if proof.title in have:
            continue
        made = evidence.add_evidence(
            conn,
            operator,
            evidence=EvidenceCreate(
                record=record,
                record_id=record_id,
                title=proof.title,
                url=proof.url,
                statement=proof.statement,
            ),
        )
        if proof.verified:
            evidence.verify_evidence(conn, operator, made.id)


def _forms(conn: Connection, operator: Principal) -> int:
    existing = {f.name: f for f in forms.list_forms(conn, operator)}
    added = 0
    for seed in FORMS:
        found = existing.get(seed.name)
        if found is None:
            found = forms.create_form(
                conn,
                operator,
                form=FormCreate.model_validate(
                    {
                        "kind": seed.kind,
                        "name": seed.name,
                        "description": seed.description,
                        "starts_on": seed.period[0],
                        "ends_on": seed.period[1],
                        "members": [
                            {"organisation_id": o, "role": r} for o, r in seed.members
                        ],
                    }
                ),
            )
            added += 1
        have = {e.title for e in found.evidence}
        _prove(conn, operator, RecordKind.form, found.id, seed.proof, have)
    return added


def _council(conn: Connection, operator: Principal) -> int:
    members = {
        (m.name, m.term_starts_on): m.id for m in council.list_members(conn, operator)
    }
    added = 0
    for name, organisation_id, role, starts, ends in MEMBERS:
        if (name, starts) not in members:
            made = council.add_member(
                conn,
                operator,
                member=CouncilMemberCreate(
                    name=name,
                    organisation_id=organisation_id,
                    role=role,
                    term_starts_on=starts,
                    term_ends_on=ends,
                ),
            )
            members[(name, starts)] = made.id
            added += 1
    existing = {m.held_at: m for m in council.list_meetings(conn, operator)}
    for seed in MEETINGS:
        found = existing.get(seed.held_at)
        if found is None:
            found = council.create_meeting(
                conn,
                operator,
                meeting=MeetingCreate.model_validate(
                    {
                        "held_at": seed.held_at,
                        "place": seed.place,
                        "agenda": seed.agenda,
                        "attendee_ids": _in_office(conn, operator, seed.held_at),
                        "decisions": [
                            {"kind": k, "text": t} for k, t in seed.decisions
                        ],
                    }
                ),
            )
            added += 1
        have = {e.title for e in found.evidence}
        _prove(conn, operator, RecordKind.meeting, found.id, seed.proof, have)
    return added


def _in_office(conn: Connection, operator: Principal, moment: datetime) -> list[int]:
    """Every member whose term covers the meeting's day attended it."""
    day = local_date(moment)
    return [
        m.id
        for m in council.list_members(conn, operator)
        if m.term_starts_on <= day and (m.term_ends_on is None or m.term_ends_on >= day)
    ]


def _applications(conn: Connection, operator: Principal) -> int:
    existing = {a.acronym: a for a in applications.list_applications(conn, operator)}
    trial = conn.execute(
        "SELECT id FROM trials WHERE title = %s", (FUNDED_TRIAL,)
    ).fetchone()
    added = 0
    for seed in APPLICATIONS:
        found = existing.get(seed.acronym)
        if found is None:
            values: dict[str, Any] = {
                "programme": seed.programme,
                "call": seed.call,
                "title": seed.title,
                "acronym": seed.acronym,
                "mol_role": seed.mol_role,
                "total_budget": Decimal(seed.budget[0]),
                "mol_share": Decimal(seed.budget[1]),
                "partners": [
                    {"organisation_id": o, "role": r} for o, r in seed.partners
                ],
                "trial_ids": [trial[0]] if seed.funds_running_trial and trial else [],
                "status_history": [
                    {"status": s, "on": on, "note": note}
                    for s, on, note in seed.history
                ],
            }
            found = applications.create_application(
                conn, operator, application=ApplicationCreate.model_validate(values)
            )
            added += 1
        have = {e.title for e in found.evidence}
        _prove(conn, operator, RecordKind.application, found.id, seed.proof, have)
    return added


def seed_record(conn: Connection, *, operator: Principal) -> int:
    """The governance record's missing parts, entered by `operator`; commits; returns how many
    records (forms, members, meetings, applications) were added."""
    added = (
        _forms(conn, operator)
        + _council(conn, operator)
        + _applications(conn, operator)
    )
    conn.commit()
    return added
