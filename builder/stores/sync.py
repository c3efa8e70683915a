"""Keeping a store in step with the lockfile: seed it, prove it holds every locked byte, prune it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from builder.building.fetch import artifact_refs, fetch
from builder.config.project import Project
from builder.locking.lockfile import Lockfile
from builder.plumbing.progress import Progress
from builder.plumbing.workdir import scratch
from builder.stores.base import ArtifactRef, ArtifactStore

Log = Callable[[str], None]


@dataclass
class SeedReport:
    published: list[ArtifactRef] = field(default_factory=list)
    present: list[ArtifactRef] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def locked_refs(project: Project, lock: Lockfile) -> list[ArtifactRef]:
    """Every locked artifact of every image, each once."""
    return artifact_refs(project, lock, project.order)


def seed(
    project: Project, lock: Lockfile, local: ArtifactStore, target: ArtifactStore, log: Log
) -> SeedReport:
    """Put every locked artifact the target lacks, fetched (and verified) through the local store."""
    refs = locked_refs(project, lock)
    report = SeedReport(present=[r for r in refs if target.has(r)])
    missing = [r for r in refs if r not in report.present]
    fetched = fetch(missing, local, Progress(len(missing)))
    report.failed.update({str(ref): error for ref, error in fetched.failed})
    with scratch("seed") as tmp:
        for ref in (r for r in missing if local.has(r)):
            staged = tmp / ref.sha256
            local.copy_to(ref, staged)
            target.put(ref, staged)
            report.published.append(ref)
            log(f"published  {ref}")
    for tool, version in sorted({(r.tool, r.version) for r in report.published}):
        target.finish(tool, version)
    return report


def verify(project: Project, lock: Lockfile, store: ArtifactStore) -> list[tuple[ArtifactRef, str]]:
    """Each locked artifact the store lacks or holds with another digest, and which it is."""
    problems = []
    for ref in locked_refs(project, lock):
        stored = store.stored_sha256(ref)
        if stored is None:
            problems.append((ref, "missing"))
        elif stored != ref.sha256:
            problems.append((ref, f"differs: the store has sha256 {stored}, the lockfile {ref.sha256}"))
    return problems
