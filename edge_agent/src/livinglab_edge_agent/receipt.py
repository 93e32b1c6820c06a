"""Delivery receipts: the ingest's word that a device's batches are committed, on `receipts`.

After each commit the ingest publishes, per device that had telemetry in it, one receipt on
`livinglab/v1/{device}/receipts` (QoS 1, not retained): every seq from `from` to `upto` (both
included) is in the platform's delivery ledger, and so is each seq in `seqs`. The ledger row
commits in the same transaction as the batch's readings (or its quarantine entry), so a receipt
never names a batch that is not durable. A device that keeps its batches until a receipt covers
them loses nothing when the broker loses what it had acknowledged (broker/README.md, "Delivery
receipts").

The document is compact JSON, `{"v":1,"from":F,"upto":W,"seqs":[...]}`, with F <= W and at most
`MAX_RECEIPT_SEQS` seqs, none of them inside F..W.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from livinglab_edge_agent.wire import WIRE_VERSION, WireError

__all__ = ["MAX_RECEIPT_SEQS", "Receipt", "decode_receipt", "encode_receipt"]

# A commit holds at most a few thousand batches of a device; a longer list goes in several
# receipts, each still small enough for the smallest boards' MQTT buffers (about 20 kB).
MAX_RECEIPT_SEQS = 1000
_SEQ_MAX = 2**63 - 1


@dataclass(frozen=True)
class Receipt:
    """Committed seqs of one device: the range `low`..`high` and the single seqs `seqs`."""

    low: int
    high: int
    seqs: tuple[int, ...] = ()

    def covers(self, seq: int) -> bool:
        return self.low <= seq <= self.high or seq in self.seqs


def encode_receipt(receipt: Receipt) -> bytes:
    """The receipt as the compact JSON document of the contract."""
    return (
        f'{{"v":{WIRE_VERSION},"from":{receipt.low},"upto":{receipt.high},'
        f'"seqs":[{",".join(map(str, receipt.seqs))}]}}'
    ).encode()


def _seq(value: object, field: str) -> int:
    if type(value) is not int or not 0 <= value <= _SEQ_MAX:
        raise WireError(f"receipt field {field!r} must be an integer in 0..2^63-1")
    return value


def decode_receipt(payload: bytes) -> Receipt:
    """Parse a receipt; raise WireError for anything that does not follow the contract."""
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"receipt is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise WireError("receipt must be a JSON object")
    if document.get("v") != WIRE_VERSION or type(document.get("v")) is not int:
        raise WireError(f"receipt field 'v' must be {WIRE_VERSION}")
    low = _seq(document.get("from"), "from")
    high = _seq(document.get("upto"), "upto")
    if low > high:
        raise WireError(f"receipt range {low}..{high} is empty")
    seqs: Sequence[object] = document.get("seqs", [])
    if not isinstance(seqs, list) or len(seqs) > MAX_RECEIPT_SEQS:
        raise WireError(
            f"receipt field 'seqs' must be a list of at most {MAX_RECEIPT_SEQS} seqs"
        )
    return Receipt(low=low, high=high, seqs=tuple(_seq(s, "seqs") for s in seqs))
