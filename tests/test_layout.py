"""The repository layout keeps the standard library's `platform` module reachable."""

import platform
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_platform_is_the_standard_library_module():
    assert Path(platform.__file__).is_relative_to(sysconfig.get_paths()["stdlib"])
    assert platform.system()


def test_no_python_file_at_the_top_of_platform():
    assert not list((ROOT / "platform").glob("*.py"))


def test_every_test_folder_is_a_package():
    folders = [
        p
        for p in (ROOT / "tests").rglob("*")
        if p.is_dir() and p.name != "__pycache__" and any(p.glob("test_*.py"))
    ]
    assert folders
    for folder in folders:
        assert (folder / "__init__.py").exists(), folder
