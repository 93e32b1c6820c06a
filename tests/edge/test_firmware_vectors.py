"""The firmware examples encode the committed wire vectors byte for byte."""

import ast
import importlib.util
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livinglab_edge_agent.wire import (
    SENSOR_KEY_PATTERN,
    Batch,
    ClockState,
    encode_binary,
    encode_json,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "broker" / "vectors"
FIRMWARE = ROOT / "firmware_examples"
CASE_NAMES = [
    entry["name"] for entry in json.loads((VECTORS / "index.json").read_text())
]
CPP_CASES = ["several_sensors", "nan_value", "negative_time"]


def load_micropython_encoder():
    """Import the MicroPython module under CPython from its path (it is no package)."""
    path = FIRMWARE / "micropython" / "livinglab_wire.py"
    spec = importlib.util.spec_from_file_location("livinglab_wire", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


micro = load_micropython_encoder()


def vector_case(name):
    """(seq, readings, synced, offset_ns) of a vector, from its plain NAME.expected.json."""
    expected = json.loads((VECTORS / f"{name}.expected.json").read_text())
    readings = [
        (t, key, math.nan if v is None else float(v))
        for t, key, v in expected["readings"]
    ]
    clock = expected["clock"]
    return expected["seq"], readings, clock["synced"], clock["offset_ns"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_micropython_binary_frame_matches_vector(name):
    seq, readings, synced, offset_ns = vector_case(name)

    frame = micro.encode_binary(seq, readings, synced=synced, offset_ns=offset_ns)

    assert frame.hex() == (VECTORS / f"{name}.bin").read_bytes().hex()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_micropython_json_matches_vector(name):
    seq, readings, synced, offset_ns = vector_case(name)

    document = micro.encode_json(seq, readings, synced=synced, offset_ns=offset_ns)

    assert document == (VECTORS / f"{name}.json").read_bytes()


READINGS = st.lists(
    st.tuples(
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from(["t", "rh", "bme280.temperature", "sds011.pm2_5", "x" * 63]),
        st.floats(width=64),
    ),
    max_size=12,
)


@given(
    st.integers(0, 2**63 - 1),
    READINGS,
    st.booleans(),
    st.none() | st.integers(-(2**63), 2**63 - 1),
)
def test_micropython_encoder_agrees_with_the_platform(seq, readings, synced, offset_ns):
    batch = Batch.from_readings(
        seq=seq, readings=readings, clock=ClockState(synced=synced, offset_ns=offset_ns)
    )

    assert micro.encode_binary(
        seq, readings, synced=synced, offset_ns=offset_ns
    ) == encode_binary(batch)
    assert micro.encode_json(
        seq, readings, synced=synced, offset_ns=offset_ns
    ) == encode_json(batch)


@given(st.from_regex(SENSOR_KEY_PATTERN, fullmatch=True))
def test_micropython_key_check_accepts_every_valid_key(key):
    assert micro.encode_binary(0, [(0, key, 1.0)])


def test_micropython_encoder_imports_only_struct():
    tree = ast.parse((FIRMWARE / "micropython" / "livinglab_wire.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }

    assert imported == {"struct"}


@pytest.mark.parametrize(
    ("seq", "readings", "message"),
    [
        (-1, [], "seq must be in"),
        (2**63, [], "seq must be in"),
        (0, [(1, "Temp", 1.0)], "invalid sensor key"),
        (0, [(1, "", 1.0)], "invalid sensor key"),
        (0, [(1, "a" * 64, 1.0)], "invalid sensor key"),
        (0, [(1, "_t", 1.0)], "invalid sensor key"),
        (0, [(1, "t\n", 1.0)], "invalid sensor key"),
    ],
)
def test_micropython_encoder_refuses_what_the_platform_refuses(seq, readings, message):
    with pytest.raises(ValueError, match=message):
        micro.encode_binary(seq, readings)
    with pytest.raises(ValueError, match=message):
        micro.encode_json(seq, readings)


def test_micropython_topic():
    assert (
        micro.topic("pico-air-01", "telemetry") == "livinglab/v1/pico-air-01/telemetry"
    )
    for device_id in ("Pico", "a/b", "+", "", "a" * 64):
        with pytest.raises(ValueError, match="invalid device id"):
            micro.topic(device_id, "status")


@pytest.fixture(scope="module")
def vector_check(tmp_path_factory):
    """vector_check.cpp compiled with the Arduino header; g++ is required, never skipped."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.fail(
            "g++ is not installed: install the Debian package g++ (apt-get install g++)"
        )
    program = tmp_path_factory.mktemp("arduino") / "vector_check"
    source = FIRMWARE / "arduino" / "vector_check.cpp"
    command = [
        compiler,
        "-std=c++11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-o",
        str(program),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return program


@pytest.mark.parametrize("name", CPP_CASES)
def test_arduino_header_builds_vector_frames(vector_check, name):
    result = subprocess.run(
        [str(vector_check), name], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (VECTORS / f"{name}.bin").read_bytes().hex()
