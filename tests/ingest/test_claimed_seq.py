"""An undecodable batch has no seq and leaves a gap in the ledger; where its header is readable,
the seq it claimed is kept with its quarantine entry, so the gap explains itself."""

from __future__ import annotations

import json

import pytest

from livinglab_edge_agent.wire import encode_binary, encode_json
from livinglab_platform.ingest.decode import Rejected, claimed_seq, decode
from tests.ingest.helpers import make_batch, scalar, wait_for

TOPIC = "livinglab/v1/d1/telemetry"


def _bad_json(seq):
    document = json.loads(encode_json(make_batch(seq, n=2)))
    document["value"] = ["21.5", None]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (encode_binary(make_batch(41, n=3))[:-1], 41),  # truncated frame
        (encode_binary(make_batch(42, n=3)) + b"\0", 42),  # a trailing byte
        (
            encode_binary(make_batch(43, n=3))[:12],
            43,
        ),  # only the seq is left of the header
        (encode_binary(make_batch(44, n=3))[:11], None),  # the seq itself is cut
        (b"LL\x02" + encode_binary(make_batch(45, n=1))[3:], None),  # another version
        (_bad_json(46), 46),
        (b'{"v":1,"seq":true}', None),
        (b'{"v":1,"seq":-1}', None),
        (b'{"v":1,"seq":9223372036854775808}', None),
        (b"{not json", None),
        (b"\xff\xfe", None),
    ],
)
def test_the_claimed_seq_of_an_undecodable_batch(payload, expected):
    assert claimed_seq(payload) == expected
    rejected = decode(TOPIC, payload)
    assert isinstance(rejected, Rejected)
    assert (rejected.seq, rejected.claimed_seq) == (None, expected)


def test_the_ingest_stores_the_claimed_seq(dsn, make_device, start_ingest):
    """Failed before: the quarantine had no claimed seq; the gap at seq 2 had no explanation."""
    device = make_device("d1", ("t", "rh"))
    start_ingest()
    device.client.send(1, encode_binary(make_batch(1)))
    device.client.send(2, encode_binary(make_batch(2))[:-1])
    device.client.send(3, encode_binary(make_batch(3)))
    device.client.settle()
    wait_for(lambda: scalar(dsn, "SELECT count(*) FROM deliveries") == 2)
    wait_for(lambda: scalar(dsn, "SELECT count(*) FROM quarantine") == 1)
    assert scalar(dsn, "SELECT claimed_seq FROM quarantine") == 2
    assert scalar(dsn, "SELECT seq IS NULL FROM quarantine") is True
    gap = scalar(dsn, "SELECT first_missing FROM delivery_gaps WHERE device_id = 'd1'")
    assert gap == 2
