"""A database restart mid-stream: the ingest reconnects with back-off and loses nothing.

The test stops and starts a PostgreSQL server of its own, so it runs the same whether or not
LIVINGLAB_TEST_DSN points the other tests at an external server.
"""

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from livinglab_lab.services import Postgres
from livinglab_platform.core import db
from livinglab_platform.core.roles import ServiceRole
from tests.conftest import Login, create_logins
from tests.ingest.helpers import wait_for
from tests.ingest.test_failures import (
    assert_all_stored_once,
    make_stream,
    publish_in_background,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def database_server():
    directory = Path(tempfile.mkdtemp(prefix="livinglab-test-restart-"))
    server = Postgres.create(directory / "pg", durable=False)
    server.start()
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(server.data_dir, ignore_errors=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dsn(database_server):
    """This module's database lives on the server the test restarts."""
    dsn = database_server.create_database("livinglab")
    db.upgrade(dsn)
    return dsn


@pytest.fixture
def service_logins(database_server, dsn) -> dict[ServiceRole, Login]:
    """The services' logins on this module's server (its migrations made their roles)."""
    return create_logins(database_server.dsn())


def test_database_restart_mid_stream(
    dsn, database_server, make_device, start_ingest, caplog
):
    device = make_device("d1")
    batches = make_stream()
    service = start_ingest(batch_max_rows=2_000)
    publisher = publish_in_background(device, batches)

    wait_for(lambda: service.stored_batches >= 30, what="30 batches stored")
    server = database_server
    try:
        server.stop(mode="fast")
        stored_before = service.stored_batches
        time.sleep(1.0)
    finally:
        server.start()
    publisher.join(30)
    device.client.settle()
    wait_for(
        lambda: service.stored_batches == len(batches),
        timeout=30,
        what="every batch stored",
    )

    assert stored_before < len(batches)
    assert_all_stored_once(dsn, batches, device)
    assert "database unavailable" in caplog.text
