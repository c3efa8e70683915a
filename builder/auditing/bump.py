"""What a bump does to the known vulnerabilities: those it fixes, those it brings in, those it keeps."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from builder.auditing.findings import Finding, audit_tools
from builder.auditing.ignores import Ignore, load_ignores
from builder.auditing.osv import Database
from builder.config.project import Project
from builder.errors import ConfigError, UpstreamError
from builder.locking.lockfile import Lockfile


@dataclass(frozen=True)
class BumpAudit:
    fixed: tuple[Finding, ...] = ()  # in the old lock, gone from the new (the old entry's finding)
    introduced: tuple[Finding, ...] = ()  # in the new lock, not in the old
    kept: tuple[Finding, ...] = ()
    problem: str = ""  # why there is no audit (OSV could not be asked); the bump goes on without it
    accepted: int = 0  # findings of the new lock audit.yaml accepts (left out of the lists above)

    @property
    def criticals(self) -> list[Finding]:
        return [f for f in self.introduced if f.severity.level == "critical"]


def _key(f: Finding) -> tuple[str, str, str, str]:
    return (f.component.tool, f.component.ecosystem, f.component.name, f.id)


def audit_bump(
    project: Project,
    old: Lockfile,
    new: Lockfile,
    tools: Iterable[str],
    database: Database,
    today: datetime.date | None = None,
) -> BumpAudit:
    """Both locks' entries of the bumped ``tools`` audited alike; a record is the same finding
    in both when tool, package and id agree (its version is what the bump changed). What the
    repository's audit.yaml accepts, until its date, is left out, as `builder audit` leaves it."""
    names = sorted(set(tools))
    try:
        ignores = _current(load_ignores(project.root, project.tools), today or datetime.date.today())
        old_tools = [project.tools[t] for t in names if t in old.tools]
        before = audit_tools(old_tools, old, database, ignores).findings
        audited = audit_tools([project.tools[t] for t in names], new, database, ignores)
    except (UpstreamError, ConfigError) as e:
        return BumpAudit(problem=str(e))
    after = audited.findings
    old_keys, new_keys = {_key(f) for f in before}, {_key(f) for f in after}
    return BumpAudit(
        fixed=tuple(f for f in before if _key(f) not in new_keys),
        introduced=tuple(f for f in after if _key(f) not in old_keys),
        kept=tuple(f for f in after if _key(f) in old_keys),
        accepted=len(audited.ignored),
    )


def _current(ignores: Iterable[Ignore], today: datetime.date) -> tuple[Ignore, ...]:
    """The acceptances still in force: a lapsed one no longer hides its finding from the PR."""
    return tuple(i for i in ignores if i.expires >= today)
