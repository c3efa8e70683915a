"""`builder sbom`: an image's CycloneDX SBOM from the lockfile, plus the Debian packages of a built image."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from builder.attesting.dpkg import OS_RELEASE, STATUS, distro, installed
from builder.attesting.image_files import inspect, read_files
from builder.attesting.sbom import BaseSystem
from builder.building.build_context import image_sbom
from builder.building.render import plan_images
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import UserError
from builder.locking.lockfile import load_lockfile
from builder.plumbing.fsutil import atomic_write
from builder.runtime import Runtime

Echo = Callable[[str], None]


def sbom_command(
    project: Project, image: str, platforms: tuple[Platform, ...], image_ref: str | None, out: Path | None,
    echo: Echo,
) -> int:  # fmt: skip
    name = project.select((image,))[0]
    plan = plan_images(project, load_lockfile(project.root))[name]
    system = None
    if image_ref:
        client = Runtime(project, os.environ).docker
        system = base_system(read_files(client, image_ref, (STATUS, OS_RELEASE)), image_ref)
        platforms = platforms or (_platform_of(inspect(client, image_ref), image_ref),)
    data = image_sbom(project, plan, platforms or project.images[name].platforms, system)
    if out is None:
        sys.stdout.buffer.write(data)
        return 0
    atomic_write(out, data)
    debs = f" and {len(system.packages)} Debian packages of {image_ref}" if system else ""
    echo(f"wrote {out}: the SBOM of {name} ({plan.tag}) from builder.lock{debs}")
    return 0


def base_system(files: dict[str, bytes], image_ref: str) -> BaseSystem:
    if STATUS not in files:
        raise UserError(f"{image_ref} has no {STATUS}: is it a Debian-based image builder built?")
    return BaseSystem(installed(files[STATUS].decode()), distro(files.get(OS_RELEASE, b"").decode()))


def _platform_of(record: dict[str, object], image_ref: str) -> Platform:
    os_name, arch = record.get("Os"), record.get("Architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        raise UserError(f"docker image inspect {image_ref} names no platform: pass --platform")
    return Platform(os_name, arch)
