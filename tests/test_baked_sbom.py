"""The SBOM baked into an image depends on what its tag depends on, and on nothing else."""

from __future__ import annotations

from dataclasses import replace

from builder.building.build_context import image_sbom
from builder.building.render import plan_images
from builder.config.platforms import Platform
from builder.config.project import Project, load_project
from builder.kinds.release_files import Artifacts
from builder.locking.lockfile import Lockfile, load_lockfile
from tests.conftest import REPO

IMAGE = "container-scanners"
AMD64 = Platform("linux", "amd64")


def relocked(lock: Lockfile, version: str | None = None) -> Lockfile:
    """The lock with every release file's evidence and URL changed (and, if given, one version)."""
    tools = dict(lock.tools)
    name, locked = next((n, t) for n, t in tools.items() if isinstance(t.payload, Artifacts))
    assert isinstance(locked.payload, Artifacts)
    new = version or locked.version
    files = {p: replace(a, file=a.file.replace(locked.version, new), url=a.url + "?mirror",
                        evidence=a.evidence[:-1]) for p, a in locked.payload.files.items()}  # fmt: skip
    tools[name] = replace(locked, payload=replace(locked.payload, files=files), version=new)
    return replace(lock, tools=tools)


def baked_and_tag(project: Project, lock: Lockfile) -> tuple[bytes, bytes, str]:
    plan = plan_images(project, lock)[IMAGE]
    return image_sbom(project, plan, (AMD64,), baked=True), image_sbom(project, plan, (AMD64,)), plan.tag


def test_a_relock_changing_only_evidence_keeps_the_tag_and_the_baked_sbom_bytes() -> None:
    project, lock = load_project(REPO), load_lockfile(REPO)
    baked, full, tag = baked_and_tag(project, lock)
    baked2, full2, tag2 = baked_and_tag(project, relocked(lock))
    assert (baked2, tag2) == (baked, tag)
    assert full2 != full  # the full document still carries the evidence and URLs
    assert b"builder:evidence" in full and b"builder:evidence" not in baked
    assert (
        b"builder:version" in full and b"builder:version" not in baked
    )  # builder's own version: not in the tag


def test_a_version_change_changes_the_tag_and_the_baked_sbom() -> None:
    project, lock = load_project(REPO), load_lockfile(REPO)
    baked, _, tag = baked_and_tag(project, lock)
    baked2, _, tag2 = baked_and_tag(project, relocked(lock, version="99.0.0"))
    assert tag2 != tag and baked2 != baked
