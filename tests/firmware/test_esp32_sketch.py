"""The ESP32 sketch (firmware_examples/arduino/livinglab_esp32/) on the host, with g++.

Its frame building (batch_builder.h over livinglab_frame.h) builds every valid vector case of
broker/vectors/ and must give each .bin byte for byte; the sketch itself is checked by g++ against
declarations of the Arduino-ESP32 core and PubSubClient with their real signatures
(arduino_stubs/). A board is not flashed here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARDUINO = ROOT / "firmware_examples" / "arduino"
SKETCH = ARDUINO / "livinglab_esp32"
VECTORS = ROOT / "broker" / "vectors"
STUBS = Path(__file__).parent / "arduino_stubs"
FLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def _gxx() -> str:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.fail(
            "g++ is not installed: install the Debian package g++ (apt-get install g++)"
        )
    return compiler


def _cases() -> list[str]:
    return [case["name"] for case in json.loads((VECTORS / "index.json").read_text())]


def _literal(text: str) -> str:
    return json.dumps(text)  # a C string literal for these ASCII keys and numbers


def _case_function(name: str) -> str:
    """C++ that adds the case's keys and readings to a BatchBuilder and prints the frame."""
    case = json.loads((VECTORS / f"{name}.expected.json").read_text())
    offset = case["clock"]["offset_ns"]
    lines = [f"int case_{name}() {{", "  livinglab::BatchBuilder<16, 8> batch;"]
    for key in case["sensors"]:
        lines.append(f"  if (batch.key({_literal(key)}) < 0) return 1;")
    for time_ns, key, value in case["readings"]:
        number = "NAN" if value is None else f"strtod({_literal(value)}, nullptr)"
        lines.append(
            f"  if (!batch.add(INT64_C({time_ns}), {_literal(key)}, {number})) return 1;"
        )
    lines += [
        "  uint8_t out[1024];",
        f"  size_t size = batch.build(UINT64_C({case['seq']}), {str(case['clock']['synced']).lower()},"
        f" {'false' if offset is None else 'true'}, INT64_C({offset or 0}), out, sizeof out);",
        "  if (size == 0) return 1;",
        '  for (size_t i = 0; i < size; ++i) printf("%02x", out[i]);',
        '  printf("\\n");',
        "  return 0;",
        "}",
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def builder_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host program: `builder_check NAME` prints the frame of vector case NAME."""
    cases = _cases()
    source = "\n".join(
        [
            "#include <inttypes.h>",
            "#include <math.h>",
            "#include <stdio.h>",
            "#include <stdlib.h>",
            "#include <string.h>",
            '#include "batch_builder.h"',
            *(_case_function(name) for name in cases),
            "int main(int argc, char** argv) {",
            "  if (argc != 2) return 2;",
            *(
                f'  if (strcmp(argv[1], "{name}") == 0) return case_{name}();'
                for name in cases
            ),
            "  return 2;",
            "}",
        ]
    )
    directory = tmp_path_factory.mktemp("esp32")
    (directory / "builder_check.cpp").write_text(source)
    program = directory / "builder_check"
    command = [
        _gxx(),
        *FLAGS,
        "-I",
        str(SKETCH),
        "-o",
        str(program),
        str(directory / "builder_check.cpp"),
    ]
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return program


@pytest.mark.parametrize("name", _cases())
def test_the_sketch_builds_every_vector_frame(builder_check: Path, name: str) -> None:
    result = subprocess.run(
        [str(builder_check), name], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (VECTORS / f"{name}.bin").read_bytes().hex()


def test_the_sketch_carries_the_checked_header() -> None:
    """The sketch folder holds its own copy of the header (Arduino builds only the sketch's own
    folder): it must stay the file that vector_check.cpp checks."""
    assert (SKETCH / "livinglab_frame.h").read_bytes() == (
        ARDUINO / "livinglab_frame.h"
    ).read_bytes()


def test_the_sketch_compiles_against_the_core_and_pubsubclient() -> None:
    command = [
        _gxx(),
        *FLAGS,
        "-fsyntax-only",
        "-I",
        str(STUBS),
        "-I",
        str(SKETCH),
        "-include",
        "Arduino.h",
        "-x",
        "c++",
        str(SKETCH / "livinglab_esp32.ino"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_builder_refuses_what_the_platform_refuses(tmp_path: Path) -> None:
    """An invalid key is not added, and a full batch takes no more readings."""
    source = tmp_path / "refuse.cpp"
    source.write_text(
        '#include "batch_builder.h"\n'
        "int main() {\n"
        "  livinglab::BatchBuilder<2, 1> batch;\n"
        '  if (batch.add(0, "Upper", 1.0)) return 1;\n'
        '  if (!batch.add(0, "t", 1.0) || !batch.add(1, "t", 2.0)) return 2;\n'
        '  if (batch.add(2, "t", 3.0) || !batch.full()) return 3;\n'
        '  if (batch.key("other") != -1) return 4;\n'
        "  uint8_t small[8];\n"
        "  if (batch.build(1, true, false, 0, small, sizeof small) != 0) return 5;\n"
        "  return 0;\n"
        "}\n"
    )
    program = tmp_path / "refuse"
    built = subprocess.run(
        [_gxx(), *FLAGS, "-I", str(SKETCH), "-o", str(program), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert subprocess.run([str(program)], check=False).returncode == 0
