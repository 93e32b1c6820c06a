"""What a production server installs: the platform's wheel holds the platform and nothing of the lab;
every distribution builds without a setuptools deprecation (the first `make demo` printed ~160
lines of them: `project.license` as a TOML table)."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Development tooling that lives in lab/ (livinglab-lab) and must never ship with the platform.
LAB_PARTS = ("livinglab_lab", "bench", "demo", "seed", "lab")


def _wheel(tmp_path: Path, folder: str) -> tuple[list[str], str]:
    """The names in the wheel of `folder`'s distribution, and what its build printed."""
    # A copy: building in place would leave build/ and *.egg-info in the repository.
    source = tmp_path / folder
    shutil.copytree(
        ROOT / folder,
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    # --verbose: the build backend's own output, where setuptools prints its deprecations.
    built = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps"),
            *(
                "--no-build-isolation",
                str(source),
                "--wheel-dir",
                str(tmp_path / "dist"),
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    log = built.stdout + built.stderr
    assert built.returncode == 0, log
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist(), log


def _platform_wheel(tmp_path: Path) -> list[str]:
    return _wheel(tmp_path, "platform")[0]


@pytest.mark.parametrize("folder", ["edge_agent", "platform", "lab"])
def test_every_distribution_builds_without_a_deprecation(tmp_path, folder):
    _, log = _wheel(tmp_path, folder)
    warned = [line for line in log.splitlines() if "eprecat" in line]
    assert warned == [], "\n".join(warned[:20])


def test_the_platform_wheel_leaves_the_lab_demo_seed_and_benchmarks_out(tmp_path):
    names = _platform_wheel(tmp_path)
    modules = [n for n in names if n.startswith("livinglab_platform/")]
    # The wheel is the platform: its parts, its migrations and its pages are there.
    for part in ("core/db.py", "registry/devices.py", "trials/lifecycle.py", "ingest/"):
        assert any(n.startswith(f"livinglab_platform/{part}") for n in modules), part
    assert any(n.endswith("migrations/000_extension.sql") for n in modules)
    assert any(n.endswith("web/templates/trial.html") for n in modules)
    shipped = {
        part
        for n in names
        for part in Path(n).with_suffix("").parts
        if part in LAB_PARTS
    }
    assert shipped == set()


def test_no_dependency_installs_over_urllib3():
    # grafana-client 4 and later pull in niquests, whose urllib3-future installs its own package
    # under the name `urllib3`: requests-based clients (schemathesis in the tests, anything a
    # deployment adds) then fail inside urllib3. platform/pyproject.toml pins a client on requests.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("urllib3-future")
