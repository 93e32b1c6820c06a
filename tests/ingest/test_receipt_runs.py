"""The watermark of delivery receipts: committed seqs as runs, receipts, and the restart from the ledger."""

from __future__ import annotations

import random

import psycopg
import pytest

from livinglab_edge_agent.receipt import (
    MAX_RECEIPT_SEQS,
    Receipt,
    decode_receipt,
    encode_receipt,
)
from livinglab_edge_agent.wire import WireError
from livinglab_platform.ingest.receipts import ReceiptBook, SeqRuns


def runs_of(seqs, **kwargs):
    runs = SeqRuns(**kwargs)
    for seq in seqs:
        runs.add(seq)
    return runs


def test_in_order_seqs_make_one_run():
    runs = runs_of(range(1, 101))
    assert runs.runs == [(1, 100)]
    assert runs.watermark == (1, 100)


def test_a_gap_keeps_the_watermark_on_the_highest_run_until_filled():
    runs = runs_of([1, 2, 3, 5, 6])
    assert runs.runs == [(1, 3), (5, 6)]
    assert list(runs.receipts([5, 6])) == [Receipt(low=5, high=6)]
    runs.add(4)
    assert runs.runs == [(1, 6)]
    assert list(runs.receipts([4])) == [Receipt(low=1, high=6)]


def test_out_of_order_seqs_end_in_the_same_runs():
    seqs = list(range(1, 501))
    random.Random(7).shuffle(seqs)
    runs = runs_of(seqs, max_runs=len(seqs))
    assert runs.runs == [(1, 500)]
    for seq in seqs:  # duplicates change nothing
        runs.add(seq)
    assert runs.runs == [(1, 500)]


def test_committed_seqs_outside_the_watermark_are_named():
    runs = runs_of([10, 11, 12])
    runs.add(3)
    runs.add(1)
    (receipt,) = runs.receipts([3, 1, 12])
    assert receipt == Receipt(low=10, high=12, seqs=(1, 3))
    for seq in (1, 3, 10, 11, 12):
        assert receipt.covers(seq)
    for seq in (2, 4, 9, 13):
        assert not receipt.covers(seq)


def test_every_committed_seq_is_in_a_receipt_and_no_other_seq():
    rng = random.Random(3)
    runs = SeqRuns(max_runs=4)
    committed: set[int] = set()
    for _ in range(200):
        group = [rng.randrange(1, 400) for _ in range(rng.randrange(1, 8))]
        for seq in group:
            runs.add(seq)
        committed.update(group)
        named: set[int] = set()
        for receipt in runs.receipts(group):
            named |= set(range(receipt.low, receipt.high + 1)) | set(receipt.seqs)
        assert set(group) <= named <= committed
        assert len(runs) <= 4


def test_too_many_gaps_forget_the_oldest_run():
    runs = runs_of(range(1, 40, 2), max_runs=3)
    assert runs.runs == [(35, 35), (37, 37), (39, 39)]


def test_a_long_list_is_split_over_several_receipts():
    seqs = list(range(0, 2 * (MAX_RECEIPT_SEQS + 10), 2))
    runs = runs_of([*seqs, 1_000_000], max_runs=len(seqs) + 1)
    receipts = list(runs.receipts(seqs))
    assert len(receipts) == 2
    assert all(r.low == r.high == 1_000_000 for r in receipts)
    assert sorted(s for r in receipts for s in r.seqs) == seqs


def test_add_run_merges_what_it_touches():
    runs = runs_of([1, 2, 10, 20])
    runs.add_run(3, 9)
    assert runs.runs == [(1, 10), (20, 20)]
    runs.add_run(5, 25)
    assert runs.runs == [(1, 25)]


def test_receipt_round_trip_and_refusals():
    receipt = Receipt(low=4, high=9, seqs=(1, 12))
    payload = encode_receipt(receipt)
    assert payload == b'{"v":1,"from":4,"upto":9,"seqs":[1,12]}'
    assert decode_receipt(payload) == receipt
    for bad in (
        b'{"v":1,"from":9,"upto":4,"seqs":[]}',
        b'{"v":1,"from":true,"upto":4}',
        b'{"v":2,"from":1,"upto":4}',
        b'{"v":1,"from":1,"upto":4,"seqs":[1.5]}',
        b'{"v":1,"from":-1,"upto":4}',
        b"[1]",
        b"not json",
    ):
        with pytest.raises(WireError):
            decode_receipt(bad)


def _ledger(dsn, device_id, seqs):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO deliveries (device_id, seq, readings, received_at)"
            " SELECT %s, s, 1, now() FROM unnest(%s::int8[]) s",
            (device_id, list(seqs)),
        )


def test_a_restarted_ingest_starts_from_the_ledger(dsn):
    # Seqs 1-50 and 52-80 were committed before the restart; 51 is missing.
    _ledger(dsn, "d1", [*range(1, 51), *range(52, 81)])
    book = ReceiptBook()
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ledger(dsn, "d1", [81])
        book.record(conn, {"d1": [81]})
        (receipt,) = [r for _, r in book.take()]
        assert receipt == Receipt(low=52, high=81)
        _ledger(dsn, "d1", [51])
        book.record(conn, {"d1": [51]})
        (receipt,) = [r for _, r in book.take()]
        assert receipt == Receipt(low=1, high=81)


def test_the_restart_reads_a_bounded_window_of_the_ledger(dsn):
    _ledger(dsn, "d1", range(1, 1001))
    book = ReceiptBook(load_window=100)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ledger(dsn, "d1", [1001])
        book.record(conn, {"d1": [1001]})
        (receipt,) = [r for _, r in book.take()]
    # Only what the window saw, and all of it truly committed.
    assert receipt == Receipt(low=902, high=1001)


def test_commits_between_two_takes_make_one_receipt_per_device(dsn):
    book = ReceiptBook()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for seqs in ([1, 2], [3], [5], [4, 9]):
            _ledger(dsn, "d1", seqs)
            book.record(conn, {"d1": seqs})
        _ledger(dsn, "d2", [7])
        book.record(conn, {"d2": [7]})
    assert sorted(book.take()) == [
        ("d1", Receipt(low=9, high=9, seqs=(1, 2, 3, 4, 5))),
        ("d2", Receipt(low=7, high=7)),
    ]
    assert book.take() == []
