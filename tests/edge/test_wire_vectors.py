"""The committed wire vectors in broker/vectors/ equal what scripts/make_wire_vectors.py writes now."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from livinglab_edge_agent.wire import (
    Batch,
    ClockState,
    WireError,
    decode_batch,
    encode_binary,
    encode_json,
    encode_readings,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "broker" / "vectors"


def load_generator():
    """scripts/ is not a package: load the generator from its path."""
    path = ROOT / "scripts" / "make_wire_vectors.py"
    spec = importlib.util.spec_from_file_location("make_wire_vectors", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = (
        module  # dataclasses look their module up while the class is made
    )
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


GENERATOR = load_generator()
CASE_NAMES = [case.name for case in GENERATOR.CASES]
INVALID = json.loads((VECTORS / "invalid" / "index.json").read_text())


def committed_files():
    return {
        p.relative_to(VECTORS).as_posix(): p.read_bytes()
        for p in VECTORS.rglob("*")
        if p.is_file()
    }


def test_committed_vectors_equal_the_generator_output():
    expected = GENERATOR.build_vectors()
    committed = committed_files()

    assert sorted(committed) == sorted(expected), (
        "run: .venv/bin/python scripts/make_wire_vectors.py"
    )
    changed = [name for name in expected if committed[name] != expected[name]]
    assert not changed, (
        f"vectors differ from the generator: {changed}; review the contract change, then regenerate"
    )


def test_index_lists_every_case():
    index = json.loads((VECTORS / "index.json").read_text())

    assert [entry["name"] for entry in index] == CASE_NAMES
    assert len(CASE_NAMES) >= 5


def plain(batch: Batch):
    """A decoded batch in the form of NAME.expected.json."""
    return {
        "seq": batch.seq,
        "clock": {"synced": batch.clock.synced, "offset_ns": batch.clock.offset_ns},
        "sensors": list(batch.sensors),
        "readings": [
            [t, key, None if math.isnan(v) else repr(v)]
            for t, key, v in batch.readings()
        ],
    }


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("suffix", [".bin", ".json"])
def test_vector_decodes_to_expected_readings(name, suffix):
    expected = json.loads((VECTORS / f"{name}.expected.json").read_text())

    batch = decode_batch((VECTORS / f"{name}{suffix}").read_bytes())

    assert plain(batch) == expected


@pytest.mark.parametrize("name", CASE_NAMES)
def test_vector_re_encodes_to_the_same_bytes(name):
    frame = (VECTORS / f"{name}.bin").read_bytes()
    document = (VECTORS / f"{name}.json").read_bytes()

    assert encode_binary(decode_batch(frame)) == frame
    assert encode_json(decode_batch(document)) == document
    assert encode_json(decode_batch(frame)) == document


def test_vectors_cover_every_clock_flag_and_padding_length():
    frames = [(VECTORS / f"{name}.bin").read_bytes() for name in CASE_NAMES]
    keys_end = {
        name: 28 + sum(1 + len(k) for k in decode_batch(f).sensors)
        for name, f in zip(CASE_NAMES, frames, strict=True)
    }

    assert {f[3] for f in frames} == {0, 1, 2, 3}
    assert {-end % 8 for end in keys_end.values()} >= {0, 4}


def test_nan_vector_carries_the_quiet_nan():
    frame = (VECTORS / "nan_value.bin").read_bytes()

    assert bytes.fromhex("000000000000f87f") in frame


@pytest.mark.parametrize("entry", INVALID, ids=[entry["file"] for entry in INVALID])
def test_invalid_vector_is_rejected_with_its_reason(entry):
    payload = (VECTORS / "invalid" / entry["file"]).read_bytes()

    with pytest.raises(WireError) as info:
        decode_batch(payload)

    assert entry["error"] in str(info.value)


def test_invalid_index_lists_every_invalid_file():
    files = {p.name for p in (VECTORS / "invalid").iterdir()} - {"index.json"}

    assert files == {entry["file"] for entry in INVALID}


def test_the_agents_numpy_free_encoder_writes_the_same_bytes():
    readings = [
        (1_700_000_000_000_000_000 + i, key, value)
        for i, (key, value) in enumerate(
            [("air_temperature", 21.5), ("pm10", None), ("air_temperature", -0.0)]
        )
    ]
    clock = ClockState(synced=True, offset_ns=-1234)
    assert encode_readings(seq=7, readings=readings, clock=clock) == encode_binary(
        Batch.from_readings(seq=7, readings=readings, clock=clock)
    )
    with pytest.raises(WireError, match="invalid sensor key"):
        encode_readings(seq=1, readings=[(0, "Bad Key", 1.0)])


def test_the_agent_never_loads_numpy():
    # About 20 MiB of a Pi's memory: the agent encodes frames with the standard library.
    code = (
        "import sys, livinglab_edge_agent.__main__, livinglab_edge_agent.agent;"
        "from livinglab_edge_agent.sensors import simulated;"
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
