"""The READMEs stay true to the code: every setting is documented, every documented one exists."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from typer.main import get_command

from livinglab_platform.cli import app
from livinglab_platform.core.settings import (
    ApiSettings,
    BrokerSettings,
    IngestSettings,
    RetentionSettings,
)

ROOT = Path(__file__).resolve().parents[1]
# Variables read by the lab tooling and tests, outside the settings classes.
EXTRA = {"LIVINGLAB_TEST_DSN", "LIVINGLAB_PG_BINDIR"}


def _settings_variables() -> set[str]:
    names = set()
    for settings in (IngestSettings, BrokerSettings, ApiSettings, RetentionSettings):
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


def _shell_lines(path: Path) -> list[str]:
    """The command lines of a README's ```sh blocks, continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", path.read_text(), re.DOTALL)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()]


def test_every_livinglab_command_in_the_readmes_exists_with_its_options():
    cli = get_command(app)
    checked = 0
    for path in (ROOT / "README.md", ROOT / "platform" / "README.md"):
        for line in _shell_lines(path):
            tokens = shlex.split(line, comments=True)
            # A command may sit inside $(...) or after a path such as .venv/bin/.
            starts = [
                i
                for i, t in enumerate(tokens)
                if re.fullmatch(r"(.*[(/])?livinglab", t)
            ]
            if not starts:
                continue
            words = []
            for word in tokens[starts[0] + 1 :]:
                if word in ("|", ">", "&", "||", "&&"):
                    break
                words.append(word)
            command = cli
            while (
                words
                and getattr(command, "commands", None)
                and not words[0].startswith("-")
            ):
                name = words.pop(0)
                assert name in command.commands, (
                    f"{path.name}: no command {name!r} in {line!r}"
                )
                command = command.commands[name]
            options = {"--help"} | {o for p in command.params for o in p.opts}
            for word in words:
                if word.startswith("--"):
                    assert word in options, (
                        f"{path.name}: {command.name} has no {word} ({line!r})"
                    )
            checked += 1
    assert checked > 20  # the walk-through alone has more


def _where_things_are() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Where things are", 1)[1].split("\n\n", 2)[1]
    return {
        m.rstrip("/")
        for line in section.splitlines()
        if line.startswith("| `")
        for m in re.findall(r"^\| `([^`]+)`", line)
    }


def test_where_things_are_names_only_real_paths():
    missing = {path for path in _where_things_are() if not (ROOT / path).exists()}
    assert missing == set()


def test_where_things_are_names_every_folder_and_every_part_of_the_platform():
    listed = _where_things_are()
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # Folders the repository holds (not what tools leave behind); platform/ is listed by parts.
    folders = {
        Path(path).parts[0]
        for path in tracked
        if len(Path(path).parts) > 1 and not path.startswith(".")
    } - {"platform"}
    package = ROOT / "platform" / "src" / "livinglab_platform"
    parts = {
        str(p.relative_to(ROOT))
        for p in package.iterdir()
        if (p.is_dir() and p.name != "__pycache__")
        or (p.suffix == ".py" and not p.name.startswith("__"))
    }
    assert folders - listed == set()
    assert parts - listed == set()


def test_every_test_security_md_names_exists():
    """SECURITY.md proves each promise with a test: each test it names must exist."""
    text = (ROOT / "SECURITY.md").read_text()
    named = re.findall(r"`(tests/[^`]+)`", text)
    assert len(named) > 10
    for reference in named:
        path, _, test = reference.partition("::")
        assert (ROOT / path).is_file(), reference
        if test:
            name = test.split("[")[0]
            assert re.search(rf"def {name}\b", (ROOT / path).read_text()), reference
