"""The README's walk-through writes its files (a device password among them) under `.lab/`, which
git ignores, and none in the repository's root."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALK = ".lab/walk"


def _walkthrough_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walk-through", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()]


def _targets(line: str) -> list[str]:
    """Files and folders a command line writes: `> FILE`, `-o FILE`, `mkdir -p DIR`."""
    text = line.split("#", 1)[0].replace("<<EOF", "")
    try:
        words = shlex.split(text)
    except ValueError:  # a line of a here-document's JSON, not a command
        words = text.split()
    found = []
    for i, word in enumerate(words[:-1]):
        if word in (">", "-o", "--output") or (word == "-p" and "mkdir" in words[:i]):
            found.append(words[i + 1])
    found += [w[1:] for w in words if w.startswith(">") and len(w) > 1]
    return [t for t in found if t != "-"]


def test_the_walkthrough_works_in_a_git_ignored_folder():
    commands = _walkthrough_commands()
    first_write = next(i for i, c in enumerate(commands) if _targets(c))
    moved = next(i for i, c in enumerate(commands) if f"cd {WALK}" in c)
    assert moved <= first_write, commands[first_write]
    for command in commands[moved + 1 :]:
        for target in _targets(command):
            # Relative to .lab/walk: never back up into the repository, never elsewhere.
            assert not target.startswith(("/", "..", "~")), command


def test_git_ignores_the_walkthroughs_files():
    # A missing tool fails the run, naming what to install; the tests run in a git checkout.
    assert shutil.which("git"), "git is missing: install the Debian package git"
    assert (ROOT / ".git").exists(), (
        f"{ROOT} is not a git checkout: run the tests in a clone"
    )
    for path in (f"{WALK}/sensio-agent/password", f"{WALK}/trial.json"):
        ignored = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"{path} is not ignored by git"
