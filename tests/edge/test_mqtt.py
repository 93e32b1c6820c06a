"""The client helper every MQTT client is built with: credentials, TLS that verifies, sessions."""

from __future__ import annotations

import gc
import os
import queue
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from livinglab_edge_agent.mqtt import create_client, session_properties
from livinglab_lab.ports import free_port, wait_for_port
from livinglab_lab.services import Mosquitto
from livinglab_platform.core import mqtt as platform_mqtt
from livinglab_platform.core.identities import INGEST_USER

TIMEOUT_S = 10


def connack(client, *, host, port, **connect):
    """Connect, wait for the CONNACK and disconnect; return (userdata, flags, reason code)."""
    answers: queue.Queue = queue.Queue()
    client.on_connect = lambda _c, userdata, flags, code, _p: answers.put(
        (userdata, flags, code)
    )
    client.connect(host, port, **connect)
    client.loop_start()
    try:
        return answers.get(timeout=TIMEOUT_S)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def tls_broker():
    """A test broker with a second listener on TLS; yields (server, TLS port, CA file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found: install the Debian package openssl")
    directory = Path(tempfile.mkdtemp(prefix="livinglab-test-mqtt-tls-"))
    server = Mosquitto.create(directory / "mqtt")
    cert, key = server.directory / "broker.pem", server.directory / "broker.key"
    # A self-signed certificate for 127.0.0.1 is its own CA.
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    if server.user is not None:  # Mosquitto started as root drops to its own user
        for path in (cert, key):
            os.chown(path, server.user.pw_uid, server.user.pw_gid)
    tls_port = free_port()
    with (server.directory / "mosquitto.conf").open("a") as config:
        config.write(
            f"\nlistener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"
        )
    server.start()
    try:
        wait_for_port(tls_port, process=server.process)
        yield server, tls_port, cert
    finally:
        server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)


def test_the_platform_uses_the_agents_helper():
    assert platform_mqtt.create_client is create_client
    assert platform_mqtt.session_properties is session_properties


def test_client_logs_in_with_its_credentials(broker):
    state = object()
    client = create_client(
        "livinglab.helper-login",
        username=INGEST_USER,
        password=broker.ingest_password,
        userdata=state,
    )
    assert client.protocol == mqtt.MQTTv5
    userdata, _flags, code = connack(client, host=broker.host, port=broker.port)
    assert not code.is_failure
    assert userdata is state


def test_client_with_a_wrong_password_is_refused(broker):
    client = create_client(
        "livinglab.helper-login", username=INGEST_USER, password="wrong"
    )
    _userdata, _flags, code = connack(client, host=broker.host, port=broker.port)
    assert code.is_failure


def test_tls_client_verifies_the_broker_against_its_ca_file(tls_broker):
    server, tls_port, ca_file = tls_broker
    client = create_client(
        "livinglab.helper-tls",
        username=server.admin_user,
        password=server.admin_password,
        tls=True,
        ca_file=ca_file,
    )
    _userdata, _flags, code = connack(client, host=server.host, port=tls_port)
    assert not code.is_failure


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_tls_client_refuses_a_broker_it_cannot_verify(tls_broker):
    server, tls_port, _ca_file = tls_broker
    # No CA file: the system CAs, which never signed the test broker's certificate.
    client = create_client(
        "livinglab.helper-tls",
        username=server.admin_user,
        password=server.admin_password,
        tls=True,
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        client.connect(server.host, tls_port)
    # paho leaves the socket of a failed handshake to the garbage collector: collect it here,
    # where its ResourceWarning is expected, not during a later test.
    gc.collect()


def test_a_missing_ca_file_raises_at_creation(tmp_path):
    with pytest.raises(FileNotFoundError):
        create_client(
            "livinglab.helper-tls",
            username="u",
            password="p",
            tls=True,
            ca_file=tmp_path / "missing.pem",
        )


def test_without_tls_no_ca_file_is_read(tmp_path):
    client = create_client(
        "livinglab.helper-plain",
        username="u",
        password="p",
        ca_file=tmp_path / "missing.pem",
    )
    assert client.protocol == mqtt.MQTTv5


def test_session_properties_keep_the_session_across_connections(broker):
    properties = session_properties(expiry_s=60, receive_maximum=10)
    assert properties.SessionExpiryInterval == 60
    assert properties.ReceiveMaximum == 10
    flags = []
    for _ in range(2):
        client = create_client(
            "livinglab.helper-session",
            username=INGEST_USER,
            password=broker.ingest_password,
        )
        _userdata, connected, code = connack(
            client,
            host=broker.host,
            port=broker.port,
            clean_start=False,
            properties=properties,
        )
        assert not code.is_failure
        flags.append(connected.session_present)
    assert flags == [False, True]
