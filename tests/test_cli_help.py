"""Every verb has --help with at least one example, and the command lists are never cut short."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from builder.cli.main import main


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


@pytest.mark.parametrize("path", [p for p, _ in commands(main)], ids=" ".join)
def test_every_verb_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"builder {' '.join(path)}" in result.output  # the example runs this very verb


@pytest.mark.parametrize("args", [[], ["store"]], ids=["builder", "builder store"])
def test_command_lists_fit_an_80_column_terminal_uncut(args: list[str]) -> None:
    output = CliRunner().invoke(main, [*args, "--help"], terminal_width=80).output
    listing = output.split("Commands:", 1)[1]
    entries = [line for line in listing.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert entries, output
    assert all(not line.rstrip().endswith("...") and len(line) <= 80 for line in entries), entries
