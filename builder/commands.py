"""What each CLI command does, as library calls that print through a given function.

The CLI and the Lambda handler are thin: they build arguments and call these.
"""

from __future__ import annotations

import os
import platform as platform_module
from collections.abc import Callable, Mapping
from pathlib import Path

from builder.build import BuildOptions, build_images, image_tag
from builder.context import assemble
from builder.engine import find_client
from builder.errors import UserError
from builder.fetch import artifact_refs, fetch
from builder.fsutil import write_all
from builder.lockfile import Lockfile, load_lockfile
from builder.platforms import Platform
from builder.progress import Progress
from builder.project import Project
from builder.render import drift, plan_images, render_project, stale_files
from builder.secrets import BuildSecrets, Once, codeartifact_secrets, private_folder, user_secrets
from builder.smoke import smoke_image, table, write_junit
from builder.stores import STORES
from builder.stores.base import ArtifactStore

Echo = Callable[..., None]


def render_command(project: Project, images: tuple[str, ...], check: bool, echo: Echo) -> int:
    names = tuple(project.select(images)) if images else ()
    files = render_project(project, load_lockfile(project.root), names)
    if check:
        return _report_drift(project, files, names, echo)
    changed = write_all({project.root / p: data for p, data in files.items()})
    for stale in stale_files(project.root, files, names):
        (project.root / stale).unlink()
        echo(f"removed {stale}")
    for written in changed:
        echo(f"wrote {written.relative_to(project.root)}")
    echo(f"rendered {len(files)} files ({len(changed)} changed)", err=True)
    return 0


def _report_drift(project: Project, files: dict[str, bytes], names: tuple[str, ...], echo: Echo) -> int:
    drifted = drift(project.root, files, names)
    for item in drifted:
        echo(item.diff, nl=False)
    if drifted:
        echo(
            f"{len(drifted)} rendered file(s) are stale: run `builder render` and commit the result",
            err=True,
        )
        return 1
    echo(f"{len(files)} rendered files are up to date", err=True)
    return 0


def host_platform() -> Platform:
    machine = platform_module.machine()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if arch is None:
        raise UserError(f"this machine ({machine}) is neither linux/amd64 nor linux/arm64: pass --platform")
    return Platform("linux", arch)


def open_store(project: Project, env: Mapping[str, str]) -> ArtifactStore:
    kind = project.settings.store.kind
    if kind not in STORES:
        raise UserError(
            f"the '{kind}' store cannot fetch artifacts yet: set store.kind to local in builder.yaml"
        )
    return STORES[kind](project.settings, env)


def fetch_command(
    project: Project,
    images: tuple[str, ...],
    platforms: tuple[Platform, ...],
    context: Path | None,
    echo: Echo,
) -> int:
    names = project.select(images)
    lock = load_lockfile(project.root)
    store = open_store(project, os.environ)
    if not _fetched(project, lock, names, platforms, store, echo):
        return 1
    if context is not None:
        if len(names) != 1 or len(platforms) != 1:
            raise UserError("--context needs exactly one image and one --platform")
        assemble(project, lock, names[0], platforms[0], store, context)
        echo(f"context for {names[0]} ({platforms[0]}) in {context}", err=True)
    return 0


def _fetched(
    project: Project,
    lock: Lockfile,
    names: list[str],
    platforms: tuple[Platform, ...],
    store: ArtifactStore,
    echo: Echo,
) -> bool:
    refs = artifact_refs(project, lock, names, platforms or None)
    report = fetch(refs, store, Progress(len(refs)))
    echo(f"fetch: {report.summary()}", err=True)
    for ref, error in report.failed:
        echo(f"error: {ref}: {error}", err=True)
    return not report.failed


def build_command(project: Project, images: tuple[str, ...], options: BuildOptions, echo: Echo) -> int:
    names = project.select(images)
    lock = load_lockfile(project.root)
    client = find_client(project.settings.docker_client, os.environ)  # before any download
    store = open_store(project, os.environ)
    if not _fetched(project, lock, names, (options.platform,), store, echo):
        return 1
    with private_folder() as folder:
        secrets = Once(lambda: _secrets(project, folder))
        built = build_images(project, lock, names, store, client, secrets, options, _prefixed(echo))
    for item in built:
        echo(f"{item.tag}  ({'up to date' if item.skipped else f'built in {item.seconds:.1f} s'})")
    return 0


def _secrets(project: Project, folder: Path) -> BuildSecrets:
    ca = project.settings.store.codeartifact
    if project.settings.store.kind == "codeartifact" and ca is not None:
        import boto3  # imported late: only CodeArtifact builds need it

        return codeartifact_secrets(boto3.client("codeartifact", region_name=ca.region), ca, folder)
    return user_secrets(project.settings, os.environ, folder)


def _prefixed(echo: Echo) -> Callable[[str, str], None]:
    def log(image: str, line: str) -> None:
        echo(f"{image} | {line}", err=True)

    return log


def smoke_command(
    project: Project,
    images: tuple[str, ...],
    image_ref: str | None,
    platform: Platform,
    junit: Path | None,
    echo: Echo,
) -> int:
    names = project.select(images)
    if image_ref and len(names) != 1:
        raise UserError("--image needs exactly one image name")
    lock = load_lockfile(project.root)
    plans = plan_images(project, lock)
    suites = {}
    for name in names:
        ref = image_ref or image_tag(project, plans[name], platform)
        echo(f"smoke: {name} ({ref})", err=True)
        suites[name] = smoke_image(project, lock, name, ref)
        echo(table(suites[name]))
    if junit:
        write_junit(junit, suites)
    failed = [r for results in suites.values() for r in results if not r.ok]
    echo(
        f"smoke: {sum(len(r) for r in suites.values()) - len(failed)} passed, {len(failed)} failed", err=True
    )
    return 1 if failed else 0
