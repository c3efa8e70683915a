"""The updater: `lock --upgrade`, mirror the new artifacts, propose one pull request.

`builder update` and the Lambda handler both call `run_update`; nothing here knows which front
called it. A run with nothing new publishes nothing and touches no branch or pull request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from builder.auditing.bump import BumpAudit, audit_bump
from builder.auditing.findings import Finding
from builder.auditing.osv import Database
from builder.building.render import render_project, stale_files
from builder.config.names import fill
from builder.config.project import Project
from builder.kinds.release_files import Artifacts
from builder.locking.continuity import ACCEPT_OPTION, provenance_text
from builder.locking.evidence import verified_by
from builder.locking.lockfile import NAME, LockedTool, Lockfile
from builder.locking.resolver import Change, Deferral, LockOutcome, lock_tools
from builder.plumbing import markdown
from builder.plumbing.workdir import scratch
from builder.sources.base import Source
from builder.stores.base import ArtifactRef, ArtifactStore
from builder.updating.pull_requests import GitHubClient, Proposal, PullRequest
from builder.updating.trust_refresh import TrustChange, TrustRefresh

_BRANCH = "builder/tool-bumps"
_TRUSTED_ROOT = "Sigstore trusted root"
Log = Callable[[str], None]


@dataclass
class UpdateReport:
    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, Deferral] = field(default_factory=dict)  # found, to be locked where npm is
    published: int = 0
    pull: PullRequest | None = None
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "ToolsChecked": self.checked,
            "UpdatesFound": len(self.changes),
            "ArtifactsPublished": self.published,
            "ToolsFailed": len(self.failures),
            "ToolsDeferred": len(self.deferred),
            "DurationMs": round(self.seconds * 1000),
        }


@dataclass(frozen=True)
class Mirror:
    """Where verified artifacts are taken from (the local cache the sources filled) and put."""

    source: ArtifactStore
    target: ArtifactStore


def run_update(
    project: Project,
    lock: Lockfile,
    sources: Mapping[str, Source],
    now: datetime,
    mirror: Mirror | None = None,
    github: GitHubClient | None = None,
    log: Log = lambda line: None,
    jobs: int = 8,
    accept: frozenset[str] = frozenset(),
    osv: Database | None = None,
    trust: TrustRefresh | None = None,
) -> UpdateReport:
    """``accept``: tools whose bump may carry weaker provenance (the pull request says so in bold).
    ``osv``: where the pull request's audit of the old and new lock asks (None: no audit).
    ``trust``: the Sigstore trusted root to refresh over TUF with the bumps (None: not kept here)."""
    started = time.monotonic()
    outcome = lock_tools(project, lock, (), sources, now, True, jobs, log, accept=accept)
    report = UpdateReport(len(project.tools), outcome.changes, outcome.failures, outcome.deferred)
    roots = _trust_change(trust, report, log)
    if outcome.changes and mirror is not None:
        report.published = _publish(outcome, mirror, log)
    if (outcome.changes or roots.files) and github is not None:
        bump = (
            audit_bump(project, lock, outcome.lock, [c.tool for c in outcome.changes], osv) if osv else None
        )
        report.pull = github.propose(_proposal(project, lock, outcome, bump, roots))
        log(f"pull request #{report.pull.number}: {report.pull.url}")
    report.seconds = time.monotonic() - started
    return report


def _trust_change(trust: TrustRefresh | None, report: UpdateReport, log: Log) -> TrustChange:
    """A refused walk fails the run (loudly, in its failures) and proposes nothing of it."""
    found = trust.proposed() if trust is not None else TrustChange()
    if found.problem:
        report.failures[_TRUSTED_ROOT] = found.problem
        log(f"FAILED     {_TRUSTED_ROOT}: {found.problem}")
    elif found.files:
        log(f"changed    {_TRUSTED_ROOT}: {'; '.join(found.summary)}")
    return found


def _publish(outcome: LockOutcome, mirror: Mirror, log: Log) -> int:
    """Copy each new artifact into the mirror, verified on the way out and in; returns how many."""
    published = 0
    with scratch("publish") as tmp:
        for change in outcome.changes:
            published += _publish_tool(outcome.lock.tools[change.tool], mirror, tmp, log)
    return published


def _publish_tool(locked: LockedTool, mirror: Mirror, tmp: Path, log: Log) -> int:
    """Python apps and npm tools have no artifacts here: pip-store and npm-store serve them."""
    put = 0
    files = locked.payload.files if isinstance(locked.payload, Artifacts) else {}
    for platform, artifact in sorted(files.items()):
        ref = ArtifactRef(locked.name, locked.version, platform, artifact)
        if mirror.target.has(ref):
            continue
        staged = tmp / artifact.sha256
        mirror.source.copy_to(ref, staged)
        mirror.target.put(ref, staged)
        put += 1
        log(f"published  {ref}")
    if put:
        mirror.target.finish(locked.name, locked.version)
    return put


def _proposal(
    project: Project,
    old: Lockfile,
    outcome: LockOutcome,
    bump: BumpAudit | None = None,
    roots: TrustChange | None = None,
) -> Proposal:
    rendered = render_project(project, outcome.lock)
    files = {NAME: outcome.lock.dumps().encode(), **_changed_renders(project.root, rendered)}
    files.update(roots.files if roots else {})
    body = pr_body(project, old, outcome, bump) + _trust_section(roots)
    title = _title(outcome)
    # The checkout (in the Lambda, the base branch as downloaded) holds the previous render: what
    # it has under buildspecs/ and the new render lacks would stay behind as stale files.
    deletes = frozenset(stale_files(project.root, rendered, ()))
    return Proposal(_BRANCH, title, body, f"{title}\n\nGenerated by `builder update`.", files, deletes)


def _title(outcome: LockOutcome) -> str:
    if not outcome.changes:
        return f"Refresh the {_TRUSTED_ROOT}"
    names = ", ".join(f"{c.tool} {c.new}" for c in outcome.changes)
    return f"Bump {names}" if len(names) < 60 else f"Bump {len(outcome.changes)} tools"


def _trust_section(roots: TrustChange | None) -> str:
    if roots is None or not roots.files:
        return ""
    changed = ", ".join(f"`{path}`" for path in sorted(roots.files))
    lines = ["", f"**The {_TRUSTED_ROOT} changed** (verified over TUF; {changed}):", ""]
    return "\n".join([*lines, *(f"- {line}" for line in roots.summary)]) + "\n"


def _changed_renders(root: Path, rendered: Mapping[str, bytes]) -> dict[str, bytes]:
    return {p: data for p, data in rendered.items() if _current(root / p) != data}


def _current(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def pr_body(project: Project, old: Lockfile, outcome: LockOutcome, bump: BumpAudit | None = None) -> str:
    lines = [
        *_critical_warning(bump),
        "Tool versions bumped by `builder update`. Every digest below was verified against the",
        "upstream's own checksums (and signature, where the upstream signs) before it was written.",
        "",
        "| tool | version | release notes | sha256 per platform | verified | provenance |",
        "|---|---|---|---|---|---|",
    ]
    for change in outcome.changes:
        locked = outcome.lock.tools[change.tool]
        notes = fill(project.tools[change.tool].release_notes, change.new)
        link = f"[notes]({notes})" if notes else ""
        version = f"{change.old or '(new)'} -> **{change.new}**"
        row = [change.tool, version, link, _digests(locked), _verified(locked), _provenance(change)]
        lines.append("| " + " | ".join(row) + " |")
    accepted = [c.tool for c in outcome.changes if c.provenance and c.provenance.accepted]
    if accepted:
        lines += ["", f"**Provenance changed, accepted by `{ACCEPT_OPTION}`: {', '.join(accepted)}.** "
                  "Their signer differs from the locked version's: check why before merging."]  # fmt: skip
    if outcome.failures:
        lines += ["", "**Not updated** (the lockfile keeps their current entries):", ""]
        lines += [f"- `{name}`: {markdown.text(error)}" for name, error in sorted(outcome.failures.items())]
    if outcome.deferred:
        lines += ["", "**Found, to be locked by hand** (this run cannot resolve them):", ""]
        lines += [f"- `{name}`: {markdown.text(str(d))}; run `builder lock --upgrade {name}` where it "
                  "is installed" for name, d in sorted(outcome.deferred.items())]  # fmt: skip
    lines += _vulnerabilities(bump) if bump else []
    return "\n".join(lines) + "\n"


def _provenance(change: Change) -> str:
    # A certificate's identity is the upstream's text: it must not end the table's cell.
    text = provenance_text(change.provenance, markdown=True) if change.provenance else ""
    return text.replace("|", "\\|")


def _critical_warning(bump: BumpAudit | None) -> list[str]:
    """A bump that brings in a known critical says so before anything else."""
    if bump is None or not bump.criticals:
        return []
    found = ", ".join(f"{markdown.code(f.id)} in {_component(f)}" for f in bump.criticals)
    return [f"> [!CAUTION]\n> **This bump brings in a known critical vulnerability**: {found}.", ""]


def _vulnerabilities(bump: BumpAudit) -> list[str]:
    if bump.problem:
        return [
            "",
            f"**Vulnerabilities not audited** (OSV could not be asked: {markdown.text(bump.problem)}).",
        ]
    lines = ["", "**Known vulnerabilities** (OSV, old lock against new):", ""]
    lines += [f"- fixed: {_finding(f)}" for f in bump.fixed]
    lines += [f"- brought in: {_finding(f)}" for f in bump.introduced]
    if bump.kept:
        lines.append(f"- still present: {', '.join(sorted({markdown.code(f.id) for f in bump.kept}))}")
    if not (bump.fixed or bump.introduced or bump.kept):
        lines.append("- none, before or after")
    if bump.accepted:
        lines.append(f"- accepted in audit.yaml (until their dates): {bump.accepted}")
    return lines


def _finding(f: Finding) -> str:
    fixed = f"; fixed in {markdown.text(', '.join(f.fixed))}" if f.fixed else ""
    return f"{markdown.code(f.id)} ({markdown.text(str(f.severity))}) in {_component(f)}{fixed}"


def _component(f: Finding) -> str:
    c = f.component
    return markdown.text(f"{c.name} {c.version} ({c.tool})")


def _digests(locked: LockedTool) -> str:
    return locked.payload.summary()


def _verified(locked: LockedTool) -> str:
    return verified_by(locked.payload.evidence())
