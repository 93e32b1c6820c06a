"""The whole API fuzzed from its own OpenAPI document (schemathesis), and the inputs it broke.

The fuzzer runs as an operator and as a partner: every response must be a non-5xx that conforms
to the document (status code, content type, schema, headers). The database is seeded with
trials, devices, grants and readings, and half of the valid cases use ids that exist, so paths
reach real objects, not only 404s. The tests after it pin down, one by one, the inputs that gave
500s, and put a NUL into every text field of every request body.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import hypothesis
import psycopg
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

from livinglab_lab.services import Mosquitto
from livinglab_platform.api import create_app
from livinglab_platform.core import dynsec as broker_admin
from livinglab_platform.core.roles import ServiceRole
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.registry import devices, tokens
from livinglab_platform.registry.schemas import TokenCreate
from livinglab_platform.trials import grants
from livinglab_platform.trials.schemas import GrantCreate
from tests.api.calls import BUILDERS, Setup
from tests.api.conftest import broker_settings
from tests.api.readings import fill_rollups
from tests.api.world import CLI, T0, World, add_device, make_trial, seed, trial_input
from tests.conftest import Broker, Login, PostgresServer

MAX_EXAMPLES = 25
# Measured: about 1,990 cases per role over 32 operations (examples, coverage and fuzzing phases).
MIN_CASES_PER_ROLE = 1_500

# Values that once gave 500s: NUL (psycopg refuses it in text), moments whose UTC year leaves
# 1-9999 (stored by PostgreSQL, unreadable by Python), ids past int4 and int8.
HOSTILE = [
    "\x00",
    "text with a \x00 inside",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01",
    "9999-12-31",
    2**31,
    -(2**31) - 1,
    2**63,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260501,
        "dictionaries": {"hostile": {"values": HOSTILE}},
        "generation": {
            "deterministic": True,
            "database": "none",
            # The fuzzer signs in with real tokens (below); generated ones would only be refused.
            "with-security-parameters": False,
            # Path and query parameters draw from HOSTILE now and then; bodies get them in _steer.
            "dictionaries": {
                "string": {"dictionary": "hostile", "probability": 0.25},
                "integer": {"dictionary": "hostile", "probability": 0.25},
            },
        },
        # Every check is on. positive_data_acceptance is adjusted: a request can match the
        # document and still be refused with 400 (a site or organisation that does not exist) or
        # 422 (rules across fields, such as ends_on not before starts_on, that JSON Schema in
        # FastAPI's document cannot state); 401 is not expected, as every case signs in.
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "403", "404", "409", "422"]
            }
        },
    }
)


class _Forward:
    """An ASGI app passing everything to `app`, which a fixture sets once the database exists.

    Schemathesis makes its tests at import time from a schema that must name the app then.
    """

    app = None

    async def __call__(self, scope, receive, send):
        assert self.app is not None, "the fuzz_world fixture sets the app"
        await self.app(scope, receive, send)


FORWARD = _Forward()
# Paths do not depend on the database, so the document comes from an app without one.
schema = schemathesis.openapi.from_dict(
    create_app(ApiSettings(database_url="postgresql://unused/unused")).openapi(),
    config=CONFIG,
)
schema.app = FORWARD

CASES: Counter[str] = Counter()
REAL: dict[str, list[object]] = {}
SIGN_IN_TOKENS: set[int] = set()


@schema.hook("flatmap_case")
def _steer(context, case):
    """Half of the valid cases use ids that exist; some get a hostile value in a body text."""
    steered = st.just(case)
    real = {k: st.sampled_from(REAL[k]) for k in case.path_parameters if REAL.get(k)}
    negative_path = case.meta is not None and case.meta.is_negative_at(
        ParameterLocation.PATH
    )
    if real and not negative_path:

        def use(ids):
            case.path_parameters = {**case.path_parameters, **ids}
            return case

        steered = st.one_of(steered, st.fixed_dictionaries(real).map(use))
    body = case.body if isinstance(case.body, dict) else {}
    texts = [k for k, v in body.items() if isinstance(v, str)]
    if texts:

        def spoil(choice):
            key, value = choice
            case.body = {**case.body, key: value}
            return case

        hostile = st.tuples(st.sampled_from(texts), st.sampled_from(HOSTILE[:6]))
        steered = st.one_of(steered, hostile.map(spoil))
    return steered


@schema.hook("filter_path_parameters")
def _spare_sign_in_tokens(context, path_parameters):
    # Revoking a token the fuzzer signs in with would turn the rest of the run into 401s.
    return (path_parameters or {}).get("token_id") not in SIGN_IN_TOKENS


def _populate(world: World, broker: Broker) -> None:
    with psycopg.connect(world.dsn) as conn, broker.admin() as dynsec:
        for device_id, org in [
            ("dev-a", "startup-a"),
            ("dev-b", "startup-b"),
            ("dev-lab", None),
        ]:
            devices.register_device(
                conn,
                dynsec,
                device_id=device_id,
                site_id="site-1",
                sensors=[devices.SensorDefinition("pm2_5", "pm2_5", "ug/m3")],
                organisation_id=org,
            )
        ids = [
            make_trial(conn, "startup-a", state="draft"),
            make_trial(conn, "startup-a", state="submitted"),
            make_trial(conn, "startup-a", state="running", device="dev-a"),
            make_trial(conn, "startup-b", state="submitted"),
            make_trial(conn, "startup-b", state="running", device="dev-b"),
        ]
        grant = grants.create_grant(
            conn,
            CLI,
            ids[2],
            grant=GrantCreate(
                organisation_id="ul-fe", starts_at=T0, ends_at=T0 + timedelta(days=3)
            ),
        )
        conn.execute(
            "INSERT INTO readings (time, sensor_id, value)"
            " SELECT %s + g * interval '1 minute', s.id, g FROM sensors s, generate_series(0, 99) g",
            (T0,),
        )
        fill_rollups(conn)
        SIGN_IN_TOKENS.update(r[0] for r in conn.execute("SELECT id FROM tokens"))
        REAL.update(
            trial_id=ids,
            trial=ids,
            assignment_id=[r[0] for r in conn.execute("SELECT id FROM trial_devices")],
            grant_id=[grant.id],
            device_id=["dev-a", "dev-b", "dev-lab"],
            site_id=["site-1"],
            organisation_id=["startup-a", "startup-b", "mol"],
            person_id=list(world.person_ids.values()),
            token_id=[
                tokens.create_token(
                    conn, CLI, person_id=world.person_ids["other"], token=TokenCreate()
                ).id
                for _ in range(3)
            ],
        )
        conn.commit()


@pytest.fixture(scope="module")
def fuzz_world(
    postgres_server: PostgresServer,
    template_database: str,
    service_logins: dict[ServiceRole, Login],
) -> Iterator[World]:
    """One seeded database and broker for the whole module: the fuzzer may change them freely."""
    name = f"test_fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'.encode()
        )
    directory = Path(tempfile.mkdtemp(prefix="livinglab-test-mqtt-"))
    server = Mosquitto.create(directory / "mqtt")
    server.start()
    try:
        broker = Broker(
            server=server,
            ingest_password=secrets.token_urlsafe(16),
            platform_password=secrets.token_urlsafe(16),
        )
        with broker.admin() as dynsec:
            broker_admin.bootstrap(
                dynsec,
                ingest_password=broker.ingest_password,
                platform_password=broker.platform_password,
            )
        world = seed(postgres_server.dsn(name))
        _populate(world, broker)
        FORWARD.app = create_app(
            ApiSettings(database_url=service_logins[ServiceRole.API].dsn(world.dsn)),
            broker_settings(broker),
        )
        yield world
    finally:
        FORWARD.app = None
        server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
        with psycopg.connect(postgres_server.base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture(scope="module", autouse=True)
def _enough_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reports the cases each role ran and, for a complete run, asserts a minimum."""
    yield
    operations = len(list(schema.get_all_operations()))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    for role in ("operator", "partner"):
        ran = CASES[f"{role} operations"]
        if ran and reporter is not None and capture is not None:
            # As capsys.disabled() does, so the line reaches the terminal.
            with capture.global_and_fixture_disabled():
                reporter.write_line(
                    f"schemathesis: {CASES[role]} cases as {role} over {ran} operations"
                )
        # Only a complete run has a known size; `-k` may select a few operations.
        if ran == operations:
            assert CASES[role] >= MIN_CASES_PER_ROLE, (
                f"only {CASES[role]} cases ran as {role}"
            )


@pytest.fixture
def count(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Cases of one operation, also kept in the test's `user_properties` as `cases`."""
    cases: Counter[str] = Counter()
    yield cases
    role = request.node.originalname.removeprefix("test_")
    request.node.user_properties.append(("cases", cases[role]))
    assert cases[role] > 0, "schemathesis ran no case for this operation"
    CASES[role] += cases[role]
    CASES[f"{role} operations"] += 1


FUZZ = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # A request makes several queries (too_slow); the token filter rejects a few cases
    # (filter_too_much); seeded bodies can be long (data_too_large); `count` is meant to be
    # shared by all cases of one operation (function_scoped_fixture).
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.filter_too_much,
        hypothesis.HealthCheck.data_too_large,
        hypothesis.HealthCheck.function_scoped_fixture,
    ],
)


@pytest.mark.slow
@schema.parametrize()
@FUZZ
def test_operator(case, fuzz_world, count):
    count["operator"] += 1
    case.call_and_validate(headers=fuzz_world.headers("operator"))


@pytest.mark.slow
@schema.parametrize()
@FUZZ
def test_partner(case, fuzz_world, count):
    count["partner"] += 1
    case.call_and_validate(headers=fuzz_world.headers("partner"))


def _texts(value: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every string in a JSON body."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, (*path, str(index)))


def _replace(value: object, path: tuple[str, ...], new: str) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [
            _replace(v, rest, new) if str(i) == head else v for i, v in enumerate(value)
        ]
    assert isinstance(value, dict)
    return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}


def test_no_text_field_takes_a_nul(client, world: World):
    """Every string of every request body: a NUL is refused with 422 naming the field."""
    fields = 0
    with psycopg.connect(world.dsn) as conn:
        setup = Setup(conn=conn, world=world, broker=None)
        for (method, path), build in sorted(BUILDERS.items()):
            for leaf in _texts(build(setup, "startup-a").json):
                call = build(setup, "startup-a")
                body = _replace(call.json, leaf, "bad \x00 text")
                r = client.request(
                    method, call.url, json=body, headers=world.headers("operator")
                )
                where = f"{method} {path} with a NUL in {'.'.join(leaf)}"
                assert r.status_code == 422, f"{where}: {r.text}"
                assert ".".join(leaf) in {e["field"] for e in r.json()["errors"]}, where
                fields += 1
    assert fields >= 30


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        # Ids are slugs; psycopg cannot send a NUL in text at all.
        ("GET", "/api/v1/organisations/a%00b", 422),
        ("GET", "/api/v1/sites/a%00b", 422),
        ("GET", "/api/v1/devices/a%00b", 422),
        ("GET", "/api/v1/devices?site=a%00b", 422),
        ("POST", "/api/v1/devices/a%00b/credentials", 422),
        ("GET", "/api/v1/data?device=a%00b", 404),
        # Past int4 (the ids' type), past int8 (what psycopg sends as numeric).
        ("GET", f"/api/v1/trials/{2**31}", 404),
        ("GET", f"/api/v1/trials/{2**64}", 404),
        ("GET", f"/api/v1/trials/-{2**64}/audit", 404),
        ("DELETE", f"/api/v1/tokens/{2**31}", 404),
        ("DELETE", f"/api/v1/trials/{2**31}/grants/{2**31}", 404),
        ("GET", f"/api/v1/data?sensor={2**31}", 404),
        ("GET", f"/api/v1/data?trial={2**63}", 404),
        # The widest range one can ask for, and an end whose default start (24 h earlier)
        # would fall before the year 1.
        (
            "GET",
            "/api/v1/data?sensor=1&start=0001-01-01T00:00:00Z&end=9999-12-31T00:00:00Z",
            200,
        ),
        pytest.param(
            "GET",
            "/api/v1/data?sensor=1&end=0001-01-01T00:00:00Z",
            422,
        ),
        # Delivery: ids past int8, a moment as a number in text (not Unix time), a period
        # longer than a report covers, and a `to` whose default `from` would fall before year 1.
        ("GET", f"/api/v1/quarantine/{2**64}", 404),
        ("GET", "/api/v1/quarantine?since=2026", 422),
        ("GET", "/api/v1/devices/dev-1/quarantine?since=0.5", 422),
        (
            "GET",
            "/api/v1/devices/dev-1/delivery?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z",
            400,
        ),
        ("GET", "/api/v1/devices/dev-1/delivery?to=0001-01-01T00:00:00Z", 400),
        # Every method of a path is named in Allow, not only the first route's.
        ("PUT", "/api/v1/trials", 405),
    ],
)
def test_hostile_paths(client, world: World, method: str, url: str, status: int):
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "dev-1", "startup-a")
        conn.commit()
    assert sensor == 1
    r = client.request(method, url, headers=world.headers("operator"))
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.json()["detail"], r.text
    if status == 405:
        assert r.headers["Allow"] == "GET, POST"
        assert r.json()["detail"] == "PUT is not allowed here; use GET or POST"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/tokens", {"expires_at": "9999-12-31T23:59:59-14:00"}),
        ("/api/v1/tokens", {"expires_at": 0}),
        ("/api/v1/trials/{trial_id}/grants", {"ends_at": "0001-01-01T00:00:00+14:00"}),
        (
            "/api/v1/trials/{trial_id}/devices",
            {"starts_at": "0001-01-01T00:00:00+01:00"},
        ),
        ("/api/v1/trials", {"starts_on": 0}),
        ("/api/v1/sites", {"latitude": False}),
        ("/api/v1/trials", {"personal_data": "yes"}),
    ],
)
def test_moments_and_numbers_out_of_their_type(client, world: World, path, body):
    """Refused with 422: moments outside Python's years in UTC, numbers for dates, bools."""
    with psycopg.connect(world.dsn) as conn:
        setup = Setup(conn=conn, world=world, broker=None)
        call = BUILDERS[("POST", path)](setup, "startup-a")
    r = client.post(
        call.url, json={**call.json, **body}, headers=world.headers("operator")
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == list(body)


def test_null_leaves_a_trial_field_as_it_is(client, world: World):
    with psycopg.connect(world.dsn) as conn:
        trial_id = make_trial(conn, "startup-a")
    r = client.patch(
        f"/api/v1/trials/{trial_id}",
        headers=world.headers("partner"),
        json={"title": None, "trl_start": None, "ends_on": None, "site_ids": None},
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == trial_input().title
    assert r.json()["site_ids"] == ["site-1"]


def test_a_token_that_would_never_work_is_refused(client, world: World):
    """The fuzzer's find: a token expiring in the year 1 was created (and never worked)."""
    r = client.post(
        "/api/v1/tokens",
        json={"expires_at": "0001-01-01"},
        headers=world.headers("operator"),
    )
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["expires_at"]
