"""What a production server installs: the platform's wheel holds the platform and nothing of the lab."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Development tooling that lives in lab/ (livinglab-lab) and must never ship with the platform.
LAB_PARTS = ("livinglab_lab", "bench", "demo", "seed", "lab")


def _platform_wheel(tmp_path: Path) -> list[str]:
    # A copy: building in place would leave build/ and *.egg-info in the repository.
    source = tmp_path / "platform"
    shutil.copytree(
        ROOT / "platform",
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *(
                "--no-build-isolation",
                str(source),
                "--wheel-dir",
                str(tmp_path / "dist"),
            ),
        ],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("livinglab_platform-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


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
