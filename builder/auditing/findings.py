"""The audit: each locked component against the records that may affect it, verdicts and severity."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from builder.auditing.components import Component, Unaudited, components, image_tools
from builder.auditing.ignores import Ignore
from builder.auditing.matching import Verdict, match
from builder.auditing.osv import Database
from builder.auditing.records import Vulnerability
from builder.auditing.severity import Severity, rank, severity_of
from builder.config.catalogue import Tool
from builder.config.project import Project
from builder.locking.lockfile import Lockfile


@dataclass(frozen=True, order=True)
class Finding:
    component: Component
    id: str
    severity: Severity = field(compare=False)
    fixed: tuple[str, ...] = field(compare=False)
    aliases: tuple[str, ...] = field(compare=False)
    summary: str = field(compare=False)
    images: tuple[str, ...] = field(default=(), compare=False)
    # A GIT-only range cannot be evaluated from a version: the finding stands on OSV's own match.
    by_server: bool = field(default=False, compare=False)

    @property
    def names(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    def at_least(self, level: str) -> bool:
        return self.severity.rank >= rank(level)


@dataclass(frozen=True)
class Audit:
    findings: tuple[Finding, ...]
    ignored: tuple[tuple[Finding, Ignore], ...] = ()
    undecided: tuple[tuple[Component, str], ...] = ()  # offline, GIT-only: (component, record id)
    unaudited: tuple[Unaudited, ...] = ()
    withdrawn: int = 0
    components: int = 0

    def failing(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.at_least(level)]


def _run_audit(
    components: Sequence[Component],
    database: Database,
    ignores: Iterable[Ignore] = (),
    images: dict[str, tuple[str, ...]] | None = None,
    unaudited: Sequence[Unaudited] = (),
) -> Audit:
    """Every record the database offers for each component, kept when its ranges hold the version."""
    found, undecided, withdrawn = [], [], 0
    for component, candidates in database.candidates(components).items():
        for candidate in candidates:
            if candidate.record.withdrawn:
                withdrawn += 1
                continue
            finding = _finding(component, candidate.record, candidate.server_matched, images or {})
            if finding is None and _undecided(candidate.record, component):
                undecided.append((component, candidate.record.id))
            elif finding is not None:
                found.append(finding)
    kept, ignored = _split(sorted(set(found)), tuple(ignores))
    return Audit(
        tuple(kept), tuple(ignored), tuple(sorted(undecided)), tuple(unaudited), withdrawn, len(components)
    )


def _finding(
    c: Component, record: Vulnerability, by_server: bool, images: dict[str, tuple[str, ...]]
) -> Finding | None:
    verdict = match(record, c.ecosystem, c.name, c.version)
    if verdict.verdict is Verdict.NOT_AFFECTED or (verdict.verdict is Verdict.UNDECIDED and not by_server):
        return None
    label = next((a.severity_label for a in record.affected if a.package == c.name and a.severity_label), "")
    return Finding(c, record.id, severity_of(record, label), verdict.fixed, record.aliases, record.summary,
                   images.get(c.tool, ()), verdict.verdict is Verdict.UNDECIDED)  # fmt: skip


def _undecided(record: Vulnerability, c: Component) -> bool:
    return match(record, c.ecosystem, c.name, c.version).verdict is Verdict.UNDECIDED


def _split(
    findings: list[Finding], ignores: tuple[Ignore, ...]
) -> tuple[list[Finding], list[tuple[Finding, Ignore]]]:
    kept, ignored = [], []
    for finding in findings:
        accepted = next((i for i in ignores if i.covers(finding.component.tool, finding.names)), None)
        if accepted is None:
            kept.append(finding)
        else:
            ignored.append((finding, accepted))
    return kept, ignored


def audit_images(
    project: Project,
    lock: Lockfile,
    images: Sequence[str],
    database: Database,
    ignores: Iterable[Ignore] = (),
) -> Audit:
    """The audit of the named images' tools (each tool once; its findings name the images)."""
    holders = image_tools(project, images)
    return audit_tools([project.tools[t] for t in holders], lock, database, ignores, holders)


def audit_tools(
    tools: Iterable[Tool],
    lock: Lockfile,
    database: Database,
    ignores: Iterable[Ignore] = (),
    holders: dict[str, tuple[str, ...]] | None = None,
) -> Audit:
    """The audit of these tools' locked components; ``holders``: tool -> the images that hold it."""
    found, unaudited = components(tools, lock)
    return _run_audit(found, database, ignores, holders, unaudited)
