"""`.lab/tokens.env`: the lab's web address and a token per demo person, kept from run to run.

The next run reads the tokens back and seed.py keeps each one that still signs its person in, so
a shell or a script that holds them goes on working.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from livinglab_lab import seed

__all__ = ["print_people", "read_tokens", "write_tokens"]

_TOKEN_SUFFIX = "_TOKEN"


def read_tokens(directory: Path) -> dict[str, str]:
    """Tokens an earlier run wrote, by person handle."""
    path = directory / "tokens.env"
    if not path.exists():
        return {}
    tokens = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.endswith(_TOKEN_SUFFIX) and value:
            tokens[name.removesuffix(_TOKEN_SUFFIX).lower()] = value
    return tokens


def write_tokens(directory: Path, *, url: str, tokens: dict[str, str]) -> None:
    """`.lab/tokens.env`: the web address and a token per demo person, for a shell or curl."""
    lines = [
        "# Written by `livinglab demo`: the lab's web address and its people's tokens.",
        f"LAB_URL={url}",
    ]
    for person in seed.PEOPLE:
        if person.handle in tokens:
            lines.append(
                f"# {person.name} <{person.email}>, {person.role.value} at {person.organisation_id}"
            )
            lines.append(
                f"{person.handle.upper()}{_TOKEN_SUFFIX}={tokens[person.handle]}"
            )
    path = directory / "tokens.env"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def print_people(console: Console, *, url: str, tokens: dict[str, str]) -> None:
    """Who can sign in to the lab's web pages, each with their token."""
    console.print(f"  demo people: sign in at {url}/ with a token")
    for person in seed.PEOPLE:
        if person.handle in tokens:
            # soft_wrap: a token cut by the terminal's width could not be copied.
            console.print(
                f"    {person.name}, {person.role.value} at {person.organisation_id}:"
                f" {tokens[person.handle]}",
                soft_wrap=True,
                highlight=False,
            )
