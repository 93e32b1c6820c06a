"""The ledger's hours (deliveries_1h, migration 012) kept by the ingest's writer equal the ledger."""

import numpy as np
import psycopg

from livinglab_edge_agent.wire import encode_binary
from tests.ingest.helpers import make_batch, scalar, wait_for

_HOURS = (
    "SELECT device_id, bucket, batches, first_seq, last_seq, readings, quarantined"
    " FROM deliveries_1h ORDER BY 1, 2"
)


def test_the_writer_keeps_the_ledger_hours(dsn, make_device, start_ingest):
    devices = [make_device("d1"), make_device("d2")]
    start_ingest()
    bad = make_batch(5, n=40)
    bad.value[3] = np.nan  # one reading to the quarantine, the batch's other 39 stored
    # Several groups, so that later transactions add to an hour another one created; seq 4 is
    # missing, seq 2 is sent twice (the duplicate must not count).
    for group, in_ledger in (([1, 2], 4), ([2, 3], 6), ([5, 6, 9], 12)):
        for device in devices:
            for seq in group:
                batch = bad if seq == 5 else make_batch(seq, n=20)
                assert device.client.publish("telemetry", encode_binary(batch)) == 0
        wait_for(
            lambda n=in_ledger: scalar(dsn, "SELECT count(*) FROM deliveries") == n,
            what="the group's batches in the ledger",
        )
    with psycopg.connect(dsn) as conn:
        kept = conn.execute(_HOURS).fetchall()
        conn.execute("SELECT dashboard_rollups_rebuild('-infinity', 'infinity')")
        rebuilt = conn.execute(_HOURS).fetchall()
    assert kept == rebuilt
    assert sum(row[2] for row in kept) == 12
    by_device = {}
    for device_id, _, batches, first, last, readings, quarantined in kept:
        row = by_device.setdefault(device_id, [0, first, last, 0, 0])
        row[0] += batches
        row[1], row[2] = min(row[1], first), max(row[2], last)
        row[3] += readings
        row[4] += quarantined
    assert by_device == {d: [6, 1, 9, 5 * 20 + 39, 1] for d in ("d1", "d2")}
