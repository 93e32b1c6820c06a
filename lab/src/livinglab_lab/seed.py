"""A believable registry for the demo: Ljubljana's ecosystem, its people, sites and trials (the
governance record 2022-2026 is record.py).

Every step skips what exists, so `livinglab demo` seeds on every start without doubling anything.
The organisations are real institutions of the city's digital ecosystem; the startups, the
citizens' initiative, the people and the trials are invented for the demo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from livinglab_platform.access import Principal
from livinglab_platform.core.db import Connection
from livinglab_platform.core.errors import AuthenticationError
from livinglab_platform.registry import organisations, people, sites, tokens
from livinglab_platform.registry.schemas import (
    Kind,
    OrganisationCreate,
    PersonCreate,
    Role,
    SiteCreate,
    TokenCreate,
)
from livinglab_platform.trials import assignments, grants, registration, transitions
from livinglab_platform.trials.schemas import (
    Action,
    AssignmentCreate,
    GrantCreate,
    PartnerLink,
    TransitionRequest,
    TrialCreate,
)

__all__ = [
    "ORGANISATIONS",
    "PEOPLE",
    "SITES",
    "TRIALS",
    "Person",
    "TrialSeed",
    "principals",
    "seed_registry",
    "seed_trials",
]

# Who the audit trail names for what the seed itself creates (organisations, people, sites).
SEEDER = Principal(
    person_id=None, name="livinglab demo seed", organisation_id=None, role=Role.operator
)

ORGANISATIONS = (
    OrganisationCreate(id="mol", name="Mestna občina Ljubljana", kind=Kind.city_administration, description="The City of Ljubljana's administration; owner of the digital strategy and of public spaces such as Prešernov trg.", website="https://www.ljubljana.si"),
    OrganisationCreate(id="turizem-lj", name="Javni zavod Turizem Ljubljana", kind=Kind.public_institution, description="The city's public institution for tourism; manages visitors in the old town.", website="https://www.visitljubljana.com"),
    OrganisationCreate(id="energetika-lj", name="JP Energetika Ljubljana", kind=Kind.public_company, description="Public company for district heating, gas and public lighting.", website="https://www.energetika-lj.si"),
    OrganisationCreate(id="voka-snaga", name="JP VOKA SNAGA", kind=Kind.public_company, description="Public company for water, sewerage and waste collection.", website="https://www.vokasnaga.si"),
    OrganisationCreate(id="ul-fe", name="Univerza v Ljubljani, Fakulteta za elektrotehniko", kind=Kind.education_research, description="Faculty of Electrical Engineering: sensor networks, IoT and signal processing.", website="https://www.fe.uni-lj.si"),
    OrganisationCreate(id="ul-fri", name="Univerza v Ljubljani, Fakulteta za računalništvo in informatiko", kind=Kind.education_research, description="Faculty of Computer and Information Science: data science and machine learning.", website="https://www.fri.uni-lj.si"),
    OrganisationCreate(id="tpl", name="Tehnološki park Ljubljana", kind=Kind.technology_park, description="Technology park hosting startups; runs the living lab with the city and the university.", website="https://www.tp-lj.si"),
    OrganisationCreate(id="zrak-io", name="Zrak.io d.o.o.", kind=Kind.company, description="Startup at the technology park: low-cost air-quality stations."),
    OrganisationCreate(id="tiha-soseska", name="Tiha soseska d.o.o.", kind=Kind.company, description="Startup: acoustic monitoring and noise maps."),
    OrganisationCreate(id="parkirko", name="Parkirko d.o.o.", kind=Kind.company, description="Startup: parking occupancy sensing."),
    OrganisationCreate(id="focus", name="Focus, društvo za sonaraven razvoj", kind=Kind.ngo, description="NGO for sustainable development; engages residents in the trials.", website="https://focus.si"),
    OrganisationCreate(id="zeleni-trnovo", name="Civilna iniciativa Zeleni Trnovo", kind=Kind.citizens_initiative, description="Residents of Trnovo asking for quieter, cleaner streets."),
    OrganisationCreate(id="mo-maribor", name="Mestna občina Maribor", kind=Kind.other_city, description="Partner city: replicates trials that succeed in Ljubljana.", website="https://www.maribor.si"),
    OrganisationCreate(id="arso", name="Agencija Republike Slovenije za okolje (ARSO)", kind=Kind.regional_national, description="National environment agency: reference air-quality stations.", website="https://www.arso.gov.si"),
    OrganisationCreate(id="enoll", name="European Network of Living Labs (ENoLL)", kind=Kind.european, description="The European network the living lab belongs to.", website="https://enoll.org"),
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """A demo person; `handle` names their token in `.lab/tokens.env` (OPERATOR_TOKEN, ...)."""

    handle: str
    organisation_id: str
    name: str
    email: str
    role: Role


PEOPLE = (
    Person("operator", "tpl", "Maja Kovač", "maja.kovac@tp-lj.example", Role.operator),
    Person("researcher", "ul-fe", "Ana Novak", "ana.novak@fe.uni-lj.example", Role.partner),
    Person("startup", "zrak-io", "Luka Horvat", "luka@zrak.example", Role.partner),
    Person("acoustics", "tiha-soseska", "Nina Zupan", "nina@tiha-soseska.example", Role.partner),
    Person("parking", "parkirko", "Rok Kranjc", "rok@parkirko.example", Role.partner),
    Person("student", "ul-fri", "Jure Vidmar", "jure.vidmar@fri.uni-lj.example", Role.partner),
    Person("viewer", "mol", "Tomaž Kos", "tomaz.kos@ljubljana.example", Role.viewer),
)  # fmt: skip

SITES = (
    SiteCreate(id="tp-ljubljana", name="Tehnološki park Ljubljana", address="Tehnološki park 19, 1000 Ljubljana", latitude=46.0456, longitude=14.4589, host_organisation_id="tpl", description="Rooftop and car park of the technology park's main building: mains power, Wi-Fi, easy access for startups."),
    SiteCreate(id="ul-fe", name="Univerza v Ljubljani, Fakulteta za elektrotehniko", address="Tržaška cesta 25, 1000 Ljubljana", latitude=46.0446, longitude=14.4897, host_organisation_id="ul-fe", description="Measurement mast on the faculty's roof above Tržaška cesta, a busy arterial road."),
    SiteCreate(id="presernov-trg", name="Prešernov trg, Ljubljana", address="Prešernov trg, 1000 Ljubljana", latitude=46.0514, longitude=14.5061, host_organisation_id="mol", description="The central square: pedestrians, events and tourists; devices on a city lamp post."),
)  # fmt: skip


@dataclass(frozen=True)
class TrialSeed:
    """A demo trial: who registers it, what it is, and the lifecycle path it has walked."""

    owner: str  # handle of the partner who registers it
    title: str
    technology: str
    description: str
    trl: tuple[int, int]
    days: tuple[int, int]  # start and end, in days from the day of seeding
    site_ids: tuple[str, ...]
    partners: tuple[tuple[str, str], ...]
    success_criteria: str
    path: tuple[Action, ...] = ()
    reason: str = ""  # for a rejection
    personal_data: bool = False
    assign_devices: bool = False
    grant: tuple[str, str] | None = None  # (organisation, reason) reading the data


TRIALS = (
    TrialSeed(
        owner="researcher",
        title="Urban sensing network: air, particulate matter and noise",
        technology="Low-cost sensor stations on Raspberry Pi edge agents",
        description="Three stations measure air temperature, humidity, pressure, PM2.5, PM10 and noise and send them to the platform over MQTT; calibration against ARSO's reference station.",
        trl=(5, 7),
        days=(-7, 180),
        site_ids=("tp-ljubljana", "ul-fe", "presernov-trg"),
        partners=(("zrak-io", "air-quality station"), ("tiha-soseska", "noise monitoring"), ("mol", "site access"), ("focus", "resident engagement"), ("enoll", "living-lab methodology")),
        success_criteria="95 % of readings delivered; PM2.5 within 20 % of the reference station on daily means",
        path=(Action.submit, Action.approve, Action.deploy, Action.start),
        assign_devices=True,
        grant=("arso", "comparison with the national reference station"),
    ),
    TrialSeed(
        owner="parking",
        title="Parking occupancy sensors around Prešernov trg",
        technology="Magnetometer parking sensors with LoRaWAN uplink",
        description="Twenty in-ground sensors report whether a parking space is taken; the city's app shows free spaces.",
        trl=(6, 8),
        days=(30, 120),
        site_ids=("presernov-trg",),
        partners=(("mol", "parking policy"), ("mo-maribor", "replication city")),
        success_criteria="Occupancy correct in 98 % of manual spot checks",
        path=(Action.submit,),
    ),
    TrialSeed(
        owner="acoustics",
        title="Noise-adaptive street lighting",
        technology="Street lights dimmed by acoustic activity sensing",
        description="Lamps brighten when footsteps and voices are detected and dim on quiet streets; no audio is stored.",
        trl=(4, 6),
        days=(14, 200),
        site_ids=("presernov-trg",),
        partners=(("energetika-lj", "street lighting operator"), ("zeleni-trnovo", "residents' panel")),
        success_criteria="30 % less energy with no drop in residents' sense of safety (survey)",
        path=(Action.submit, Action.approve),
    ),
    TrialSeed(
        owner="startup",
        title="Indoor air quality in kindergartens",
        technology="CO2 and PM sensors with a classroom traffic light",
        description="A green-amber-red light tells teachers when to open the windows.",
        trl=(6, 7),
        days=(60, 240),
        site_ids=("tp-ljubljana",),
        partners=(("mol", "kindergartens' owner"),),
        success_criteria="Hours above 1,400 ppm CO2 halved",
    ),
    TrialSeed(
        owner="student",
        title="CO2 monitoring in lecture halls",
        technology="NDIR CO2 sensors and occupancy estimation",
        description="Estimates how many students are in a hall from CO2 and tunes ventilation.",
        trl=(3, 5),
        days=(-300, -120),
        site_ids=("ul-fe",),
        partners=(("ul-fe", "host faculty"),),
        success_criteria="Occupancy estimated within 10 % of door counts",
        path=(Action.submit, Action.approve, Action.deploy, Action.start, Action.evaluate, Action.complete),
    ),
    TrialSeed(
        owner="parking",
        title="Camera-based pedestrian counting on Prešernov trg",
        technology="Cameras with on-server person detection",
        description="Counts pedestrians crossing the square from video.",
        trl=(5, 7),
        days=(20, 110),
        site_ids=("presernov-trg",),
        partners=(("turizem-lj", "visitor statistics"),),
        success_criteria="Counts within 5 % of manual counts",
        path=(Action.submit, Action.reject),
        reason="Video of people in a public space needs a data protection impact assessment; resubmit with counting on the device and no images leaving it.",
        personal_data=True,
    ),
)  # fmt: skip

# Partners take their own trials' actions; the operator takes the rest (lifecycle.py).
_OPERATOR_ACTIONS = frozenset({Action.approve, Action.reject, Action.complete})


def principals(conn: Connection) -> dict[str, Principal]:
    """The seeded people who exist, by handle, as the platform sees them when they sign in."""
    by_email = {p.email: p for p in people.list_people(conn, SEEDER)}
    return {
        person.handle: Principal(
            person_id=found.id,
            name=found.name,
            organisation_id=found.organisation_id,
            role=found.role,
        )
        for person in PEOPLE
        if (found := by_email.get(person.email)) is not None
    }


def _token(conn: Connection, principal: Principal, *, known: str | None) -> str:
    """`known` if it still signs this person in, otherwise a new token."""
    if known is not None:
        try:
            if tokens.authenticate(conn, known).person_id == principal.person_id:
                return known
        except AuthenticationError:
            pass
    assert principal.person_id is not None
    return tokens.create_token(
        conn, SEEDER, person_id=principal.person_id, token=TokenCreate(name="demo")
    ).token


def seed_registry(
    conn: Connection, *, tokens: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Organisations, people and sites that are missing; commits.

    Args:
        tokens: tokens handed out by an earlier run, by person handle; they are kept while
            they still work.

    Returns:
        A working token for every demo person, by handle.
    """
    existing = {o.id for o in organisations.list_organisations(conn)}
    for organisation in ORGANISATIONS:
        if organisation.id not in existing:
            organisations.create_organisation(conn, SEEDER, organisation=organisation)
    present = principals(conn)
    for person in PEOPLE:
        if person.handle not in present:
            people.create_person(
                conn,
                SEEDER,
                person=PersonCreate(
                    organisation_id=person.organisation_id,
                    name=person.name,
                    email=person.email,
                    role=person.role,
                ),
            )
    known = dict(tokens or {})
    working = {
        handle: _token(conn, principal, known=known.get(handle))
        for handle, principal in principals(conn).items()
    }
    existing_sites = {s.id for s in sites.list_sites(conn)}
    for site in SITES:
        if site.id not in existing_sites:
            sites.create_site(conn, SEEDER, site=site)
    conn.commit()
    return working


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def seed_trials(
    conn: Connection,
    *,
    devices: Sequence[str],
    today: date | None = None,
) -> int:
    """Trials in every state, each walked along its path by its people; commits; returns how many were added.

    Args:
        devices: registered device ids the running trial uses, from a week ago until its end.
        today: the day the trial periods count from (default: today, UTC).
    """
    today = today or datetime.now(UTC).date()
    people_by_handle = principals(conn)
    operator = people_by_handle["operator"]
    titles = {str(r[0]) for r in conn.execute("SELECT title FROM trials")}
    added = 0
    for seed in TRIALS:
        if seed.title in titles:
            continue
        owner = people_by_handle[seed.owner]
        starts_on = today + timedelta(days=seed.days[0])
        ends_on = today + timedelta(days=seed.days[1])
        trial = registration.create_trial(
            conn, owner, trial=_trial_create(seed, starts_on=starts_on, ends_on=ends_on)
        )
        # The devices count, and the grant reads, from the first day to the end of the last.
        period = (_midnight(starts_on), _midnight(ends_on + timedelta(days=1)))
        _walk_path(
            conn,
            seed,
            trial_id=trial.id,
            owner=owner,
            operator=operator,
            devices=devices,
            period=period,
        )
        if seed.grant is not None:
            organisation_id, reason = seed.grant
            grants.create_grant(
                conn,
                operator,
                trial.id,
                grant=GrantCreate(
                    organisation_id=organisation_id,
                    starts_at=period[0],
                    ends_at=period[1],
                    reason=reason,
                ),
            )
        added += 1
    conn.commit()
    return added


def _trial_create(seed: TrialSeed, *, starts_on: date, ends_on: date) -> TrialCreate:
    """What the trial's owner fills in to register it."""
    return TrialCreate(
        title=seed.title,
        technology=seed.technology,
        technology_description=seed.description,
        trl_start=seed.trl[0],
        trl_target=seed.trl[1],
        starts_on=starts_on,
        ends_on=ends_on,
        site_ids=list(seed.site_ids),
        partners=[PartnerLink(organisation_id=o, role=r) for o, r in seed.partners],
        success_criteria=seed.success_criteria,
        data_sharing_terms="Aggregated data public after the trial; raw data to the partners and the city.",
        personal_data=seed.personal_data,
    )


def _walk_path(
    conn: Connection,
    seed: TrialSeed,
    *,
    trial_id: int,
    owner: Principal,
    operator: Principal,
    devices: Sequence[str],
    period: tuple[datetime, datetime],
) -> None:
    """Take the trial's actions in order, each by whoever the lifecycle lets take it."""
    for action in seed.path:
        actor = operator if action in _OPERATOR_ACTIONS else owner
        transitions.transition(
            conn,
            actor,
            trial_id,
            request=TransitionRequest(
                action=action, reason=seed.reason if action is Action.reject else ""
            ),
        )
        if action is Action.deploy and seed.assign_devices:
            # Assigned in the deploying state, from a week ago, so that every reading the
            # demo's agents send belongs to the running trial.
            for device_id in devices:
                assignments.assign_device(
                    conn,
                    operator,
                    trial_id,
                    assignment=AssignmentCreate(
                        device_id=device_id, starts_at=period[0], ends_at=period[1]
                    ),
                )
