"""The `livinglab` command run in-process (typer's CliRunner) against a fresh database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

from livinglab_platform.cli import app, terminal

Run = Callable[..., Result]


@pytest.fixture
def livinglab(api_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`livinglab(*args)` runs a command on the test database, as the API's role (the operator's
    commands need nothing more); it must succeed unless `code` is given."""
    # The consoles are made at import, before any COLUMNS: wide tables keep whole cells.
    monkeypatch.setattr(terminal.console, "width", 300)
    monkeypatch.setattr(terminal.err, "width", 300)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(
            app, list(args), env={"LIVINGLAB_DATABASE_URL": api_dsn, **(env or {})}
        )
        assert result.exit_code == code, (
            f"livinglab {' '.join(args)} exited {result.exit_code}:\n{result.output}"
            f"\n{result.exception!r}"
        )
        return result

    return run
