"""When the agent sends a batch again for lack of a receipt: timeout, doubling, window, reconnect."""

from __future__ import annotations

import math

from livinglab_edge_agent.awaiting import BACKOFF_MAX_S, Awaiting
from livinglab_edge_agent.receipt import Receipt


def test_a_batch_is_sent_again_after_the_timeout_then_twice_as_late():
    awaiting = Awaiting(timeout_s=30.0, window=10)
    awaiting.acknowledged(1, now=0.0)
    assert awaiting.choose([1], busy=set(), room=5, now=29.9) == []
    assert awaiting.choose([1], busy=set(), room=5, now=30.0) == [1]
    awaiting.acknowledged(1, now=30.0)  # the second copy's PUBACK
    assert awaiting.choose([1], busy=set(), room=5, now=89.9) == []
    assert awaiting.choose([1], busy=set(), room=5, now=90.0) == [1]
    for _ in range(20):
        awaiting.acknowledged(1, now=0.0)
    assert awaiting.choose([1], busy=set(), room=5, now=BACKOFF_MAX_S - 0.1) == []
    assert awaiting.choose([1], busy=set(), room=5, now=BACKOFF_MAX_S) == [1]


def test_new_batches_go_first_in_seq_order_within_the_room_and_busy_ones_wait():
    awaiting = Awaiting(timeout_s=1.0, window=10)
    awaiting.acknowledged(1, now=0.0)
    assert awaiting.choose([1, 2, 3, 4], busy={2}, room=2, now=0.5) == [3, 4]
    assert awaiting.choose([1, 2, 3, 4], busy={2}, room=5, now=1.0) == [1, 3, 4]


def test_a_receipt_ends_the_wait_and_gone_batches_are_forgotten():
    awaiting = Awaiting(timeout_s=1.0, window=3)
    for seq in (1, 2, 3, 7):
        awaiting.acknowledged(seq, now=0.0)
    awaiting.confirmed(Receipt(low=1, high=2, seqs=(7,)))
    assert len(awaiting) == 1
    assert 3 in awaiting
    # Seq 3 was purged over capacity; the window (3 seqs) shows the outbox's oldest now.
    assert awaiting.choose([4, 5, 6], busy=set(), room=5, now=0.0) == [4, 5, 6]
    assert 3 not in awaiting


def test_idle_while_everything_sent_waits_and_nothing_is_overdue():
    awaiting = Awaiting(timeout_s=1.0, window=2)
    assert not awaiting.idle(sealed=1, busy=0, now=0.0)
    awaiting.acknowledged(1, now=0.0)
    assert awaiting.idle(sealed=1, busy=0, now=0.5)
    assert not awaiting.idle(sealed=3, busy=0, now=0.5)
    assert awaiting.idle(sealed=3, busy=1, now=0.5)  # the window is full
    assert not awaiting.idle(sealed=1, busy=0, now=1.0)  # overdue


def test_after_a_reconnect_every_waiting_batch_is_sent_again_at_once():
    awaiting = Awaiting(timeout_s=30.0, window=10)
    awaiting.acknowledged(1, now=0.0)
    awaiting.acknowledged(2, now=0.0)
    awaiting.reconnected(now=5.0)
    assert awaiting.choose([1, 2], busy=set(), room=5, now=5.0) == [1, 2]
    awaiting.acknowledged(1, now=5.0)  # the try count survives: 60 s now
    assert awaiting.choose([1], busy=set(), room=5, now=64.9) == []


def test_next_due_is_the_first_receipt_timeout():
    # The agent's loop sleeps until then instead of polling for overdue receipts.
    awaiting = Awaiting(timeout_s=30.0, window=10)
    assert awaiting.next_due() == math.inf
    awaiting.acknowledged(1, now=10.0)
    awaiting.acknowledged(2, now=5.0)
    assert awaiting.next_due() == 35.0
    awaiting.confirmed(Receipt(low=2, high=2, seqs=()))
    assert awaiting.next_due() == 40.0
