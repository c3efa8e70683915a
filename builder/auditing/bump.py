"""What a bump does to the known vulnerabilities: those it fixes, those it brings in, those it keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from builder.auditing.findings import Finding, audit_tools
from builder.auditing.osv import Database
from builder.config.project import Project
from builder.errors import UpstreamError
from builder.locking.lockfile import Lockfile


@dataclass(frozen=True)
class BumpAudit:
    fixed: tuple[Finding, ...] = ()  # in the old lock, gone from the new (the old entry's finding)
    introduced: tuple[Finding, ...] = ()  # in the new lock, not in the old
    kept: tuple[Finding, ...] = ()
    problem: str = ""  # why there is no audit (OSV could not be asked); the bump goes on without it

    @property
    def criticals(self) -> list[Finding]:
        return [f for f in self.introduced if f.severity.level == "critical"]


def _key(f: Finding) -> tuple[str, str, str, str]:
    return (f.component.tool, f.component.ecosystem, f.component.name, f.id)


def audit_bump(
    project: Project, old: Lockfile, new: Lockfile, tools: Iterable[str], database: Database
) -> BumpAudit:
    """Both locks' entries of the bumped ``tools`` audited alike; a record is the same finding
    in both when tool, package and id agree (its version is what the bump changed)."""
    names = sorted(set(tools))
    try:
        before = audit_tools([project.tools[t] for t in names if t in old.tools], old, database).findings
        after = audit_tools([project.tools[t] for t in names], new, database).findings
    except UpstreamError as e:
        return BumpAudit(problem=str(e))
    old_keys, new_keys = {_key(f) for f in before}, {_key(f) for f in after}
    return BumpAudit(
        fixed=tuple(f for f in before if _key(f) not in new_keys),
        introduced=tuple(f for f in after if _key(f) not in old_keys),
        kept=tuple(f for f in after if _key(f) in old_keys),
    )
