"""Build contexts: the rendered folder of one image plus its verified artifacts, and nothing else.

A context lives at a stable path (``.builder/contexts/<image>-<arch>`` in the project) and is
updated in place: unchanged files keep their bytes, inode and mtime, so BuildKit transfers only
what changed. A lock file keeps two builds of the same context from interleaving.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from builder.building.fetch import artifact_refs
from builder.building.render import OUTPUT, ImagePlan, plan_images, render_project
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import UserError
from builder.locking.lockfile import Lockfile
from builder.plumbing.fsutil import atomic_write, within
from builder.stores.base import ArtifactStore

if TYPE_CHECKING:
    from builder.attesting.sbom import BaseSystem, SbomSubject

_NOT_IN_CONTEXT = ("buildspec.yml",)
SBOM_FILE = "sbom.cdx.json"  # in the context, beside the Dockerfile, which copies it into the image


def context_dir(project: Project, image: str, platform: Platform) -> Path:
    return within(project.root, project.root / ".builder" / "contexts" / f"{image}-{platform.arch}")


@contextmanager
def locked(folder: Path) -> Iterator[Path]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield folder


def assemble(
    project: Project, lock: Lockfile, image: str, platform: Platform, store: ArtifactStore, dest: Path
) -> Path:
    """Make ``dest`` the minimal context for ``image`` on ``platform``: rendered files + artifacts."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted: set[Path] = set()
    prefix = f"{OUTPUT}/{image}/"
    for path, data in render_project(project, lock, (image,)).items():
        relative = path[len(prefix) :] if path.startswith(prefix) else None
        if relative and relative not in _NOT_IN_CONTEXT:
            target = within(dest, dest / relative)
            wanted.add(target)
            if not target.is_file() or target.read_bytes() != data:
                atomic_write(target, data)
    sbom = within(dest, dest / SBOM_FILE)
    wanted.add(sbom)
    data = image_sbom(project, plan_images(project, lock)[image], (platform,), baked=True)
    if not sbom.is_file() or sbom.read_bytes() != data:
        atomic_write(sbom, data)
    for ref in artifact_refs(project, lock, [image], [platform]):
        if not store.has(ref):
            raise UserError(f"{ref} is not in the {store.name} store: run `builder fetch {image}`")
        target = within(dest, dest / "artifacts" / ref.tool / ref.artifact.file)
        wanted.add(target)
        store.copy_to(ref, target)  # verified again on its way into the context
    _remove_others(dest, wanted)
    return dest


def _remove_others(dest: Path, wanted: set[Path]) -> None:
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file() and path not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def image_sbom(
    project: Project,
    plan: ImagePlan,
    platforms: tuple[Platform, ...],
    system: BaseSystem | None = None,
    baked: bool = False,
) -> bytes:
    """The SBOM of one planned image; ``baked``: what the build bakes in (no evidence, no URLs)."""
    from dataclasses import replace

    from builder.attesting.sbom import builder_version, sbom_json  # heavy: only when building

    subject = replace(sbom_subject(project, plan, platforms), evidence=not baked)
    return sbom_json(subject, builder_version(), system)


def sbom_subject(project: Project, plan: ImagePlan, platforms: tuple[Platform, ...]) -> SbomSubject:
    from builder.attesting.sbom import SbomSubject

    external = project.settings.base_images.get(project.images[plan.name].base.external or "")
    base = external.pinned if external else ""
    return SbomSubject(plan.name, plan.tag, plan.lock_digest, plan.tools, platforms, base)
