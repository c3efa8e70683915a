"""Accepted findings (audit.yaml): each names the record, the tool, why, and until when.

    ignore:
      - id: GHSA-xxxx-xxxx-xxxx      # or any alias (CVE-...)
        tool: checkov
        reason: the vulnerable parser is never given untrusted input
        expires: 2027-03-31

An entry past its date fails the run: an acceptance is a decision with a deadline, not a mute.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from builder.config.document import Node, load_yaml, suggest
from builder.errors import ConfigError, UserError

_NAME = "audit.yaml"
_KEYS = ("id", "tool", "reason", "expires")


@dataclass(frozen=True)
class Ignore:
    id: str
    tool: str
    reason: str
    expires: datetime.date
    where: str  # audit.yaml:LINE

    def covers(self, tool: str, names: Iterable[str]) -> bool:
        return tool == self.tool and self.id in set(names)


def load_ignores(root: Path, tools: Iterable[str]) -> tuple[Ignore, ...]:
    """The entries of ``root/audit.yaml`` (none when there is no file); ConfigError at file:line."""
    path = root / _NAME
    if not path.is_file():
        return ()
    top = load_yaml(path, _NAME).root()
    if top.value is None:
        return ()
    entries = top.mapping(["ignore"], required=["ignore"])["ignore"]
    known = set(tools)
    return tuple(_entry(node, known) for node in entries.items())


def _entry(node: Node, tools: set[str]) -> Ignore:
    fields = node.mapping(_KEYS, required=_KEYS)
    tool = fields["tool"].text()
    if tool not in tools:
        raise fields["tool"].error(f"unknown tool '{tool}'{suggest(tool, tools)}")
    reason = fields["reason"].text().strip()
    if not reason:
        raise fields["reason"].error("say why the finding is accepted")
    return Ignore(fields["id"].name("label"), tool, reason, _date(fields["expires"]), node.where())


def _date(node: Node) -> datetime.date:
    value = node.value
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.date.fromisoformat(node.text())
    except (ValueError, ConfigError):
        raise node.error(f"'{value}' is not a date (expected YYYY-MM-DD, e.g. 2027-03-31)") from None


class LapsedIgnores(UserError):
    """One line per lapsed entry: each names its file and line, and nothing in it has a line break."""

    multiline = True


def check_expiry(ignores: Iterable[Ignore], today: datetime.date) -> None:
    """UserError naming every entry past its date (the run must not pass on a lapsed acceptance)."""
    lapsed = [i for i in ignores if i.expires < today]
    if lapsed:
        lines = [f"{i.where}: the acceptance of {i.id} in {i.tool} expired on {i.expires}" for i in lapsed]
        raise LapsedIgnores(
            "\n".join(lines) + "\nfix the finding, or renew the entry with a new reason and date"
        )
