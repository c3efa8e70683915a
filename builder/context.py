"""Build contexts: the rendered folder of one image plus its verified artifacts, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from builder.errors import UserError
from builder.fetch import artifact_refs
from builder.lockfile import Lockfile
from builder.platforms import Platform
from builder.project import Project
from builder.render import OUTPUT, render_project
from builder.stores.base import ArtifactStore

_NOT_IN_CONTEXT = ("buildspec.yml",)


def assemble(
    project: Project, lock: Lockfile, image: str, platform: Platform, store: ArtifactStore, dest: Path
) -> Path:
    """Write the minimal context for ``image`` on ``platform`` into ``dest`` (emptied first)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    prefix = f"{OUTPUT}/{image}/"
    for path, data in render_project(project, lock, (image,)).items():
        relative = path[len(prefix) :] if path.startswith(prefix) else None
        if relative and relative not in _NOT_IN_CONTEXT:
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            (dest / relative).write_bytes(data)
    for ref in artifact_refs(project, lock, [image], [platform]):
        if not store.has(ref):
            raise UserError(f"{ref} is not in the {store.name} store: run `builder fetch {image}`")
        store.copy_to(ref, dest / "artifacts" / ref.tool / ref.artifact.file)  # verified again on the way
    return dest
