"""The attack of the security review: a device takes over the ingest's persistent session.

A partner registered a device under the ingest's client id and connected with clean start off:
the broker handed it the ingest's session, kicked the ingest at every reconnect, and messages it
had acknowledged to agents were lost. The ingest's identities are `livinglab.` names now, which
no device id can be.
"""

from __future__ import annotations

import logging
import queue
import secrets

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from livinglab_edge_agent.mqtt import create_client, session_properties
from livinglab_edge_agent.wire import encode_binary
from livinglab_platform.core import dynsec as broker_admin
from livinglab_platform.core.errors import InvalidInputError
from tests.ingest.helpers import (
    assert_same_rows,
    expected_rows,
    make_batch,
    scalar,
    stored_rows,
    wait_for,
)

TIMEOUT_S = 10


def _connect(broker, *, username, password, client_id) -> tuple[ReasonCode, bool]:
    """CONNECT as a persistent session would (clean start off); CONNACK's code and session flag."""
    answers: queue.Queue[tuple[ReasonCode, bool]] = queue.Queue()
    client = create_client(client_id, username=username, password=password)
    client.on_connect = lambda _c, _u, flags, code, _p: answers.put(
        (code, flags.session_present)
    )
    client.connect(
        broker.host,
        broker.port,
        clean_start=False,
        properties=session_properties(expiry_s=3600),
    )
    client.loop_start()
    try:
        return answers.get(timeout=TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_device_cannot_take_over_the_ingest_session(
    dsn, broker, make_device, start_ingest, caplog
):
    device = make_device("d1")
    service = start_ingest()
    ingest_client_id = service.settings.ingest_client_id

    # The partner registers a device whose id is the ingest's client id: refused, nothing made.
    with (
        broker.admin() as dynsec,
        pytest.raises(InvalidInputError, match="invalid device id"),
    ):
        broker_admin.create_device_client(
            dynsec, device_id=ingest_client_id, password=secrets.token_urlsafe(16)
        )
    # A device's own credentials with the ingest's client id: the broker refuses the login.
    mallory = broker.add_device("mallory")
    # The ingest's client id before the namespace is an ordinary device id now, with no session.
    legacy = broker.add_device("ingest-1")
    code, present = _connect(
        broker, username="ingest-1", password=legacy, client_id="ingest-1"
    )
    assert not code.is_failure
    assert not present

    batches = [make_batch(seq, n=50) for seq in range(1, 21)]
    with caplog.at_level(logging.WARNING, logger="livinglab_platform.ingest"):
        for batch in batches:
            assert device.client.publish("telemetry", encode_binary(batch)) == 0
            code, present = _connect(
                broker, username="mallory", password=mallory, client_id=ingest_client_id
            )
            assert code.is_failure, "a device logged in with the ingest's client id"
            assert not present
        wait_for(lambda: service.stored_batches == len(batches), what="20 batches")

    # The ingest lost nothing and was never cut off.
    assert_same_rows(stored_rows(dsn), expected_rows(batches, device.sensor_ids))
    assert scalar(dsn, "SELECT count(*) FROM delivery_gaps WHERE device_id = 'd1'") == 0
    assert not [r for r in caplog.records if "disconnected" in r.getMessage()]
