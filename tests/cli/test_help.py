"""Help as a person reads it: a flag is shown as a flag, never as `--help <bool>`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from livinglab_platform.cli import app


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["trials", "--help"],
        ["trials", "list", "--help"],
        ["export", "--help"],
        ["devices", "list", "--help"],
    ],
    ids=" ".join,
)
def test_help_shows_flags_without_a_type(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output


def test_the_utc_flag_is_documented_on_the_root_command():
    shown = CliRunner().invoke(app, ["--help"]).output
    assert "--utc" in shown
    assert "Show times in UTC" in shown
