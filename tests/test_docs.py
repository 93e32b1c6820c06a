"""The READMEs stay true to the code: every setting is documented, every documented one exists."""

from __future__ import annotations

import re
from pathlib import Path

from livinglab_platform.config import BrokerSettings, IngestSettings

ROOT = Path(__file__).resolve().parents[1]
# Variables read by the lab tooling and tests, outside the settings classes.
EXTRA = {"LIVINGLAB_TEST_DSN", "LIVINGLAB_PG_BINDIR"}


def _settings_variables() -> set[str]:
    names = set()
    for settings in (IngestSettings, BrokerSettings):
        prefix = settings.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in settings.model_fields}
    return names


def _documented(path: Path) -> set[str]:
    rows = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return {m for line in rows for m in re.findall(r"`(LIVINGLAB_[A-Z0-9_]+)`", line)}


def test_every_setting_is_in_the_readme_tables():
    documented = _documented(ROOT / "README.md") | _documented(
        ROOT / "platform" / "README.md"
    )
    assert _settings_variables() - documented == set()


def test_the_readme_tables_name_only_real_settings():
    documented = _documented(ROOT / "README.md") | _documented(
        ROOT / "platform" / "README.md"
    )
    assert documented - _settings_variables() - EXTRA == set()


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text
    assert "make test" in text
