"""`builder audit` and `builder store osv`: what the CLI does around builder.auditing."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builder.auditing.findings import Audit, audit_images
from builder.auditing.formats import render
from builder.auditing.ignores import check_expiry, load_ignores
from builder.auditing.osv import mirror_archives
from builder.auditing.security_hub import sync, target_from_environment
from builder.config.project import Project
from builder.locking.lockfile import load_lockfile
from builder.plumbing.fsutil import atomic_write
from builder.runtime import Runtime

Echo = Callable[..., None]


@dataclass(frozen=True)
class AuditOptions:
    fmt: str = "table"
    fail_on: str | None = None  # a severity level; None: findings alone do not fail the run
    output: Path | None = None
    offline: bool | None = None  # None: builder.yaml's audit.offline
    archives: Path | None = None  # the folder of OSV archives; default: the local store's osv/
    security_hub: bool = False


def _archives(runtime: Runtime, options: AuditOptions, project: Project) -> Path:
    """Where the offline audit reads: --archives, else the CodeArtifact mirror, else the local store."""
    if options.archives:
        return options.archives
    if runtime.settings.store.kind != "codeartifact":
        return runtime.local_store.root / "osv"
    from builder.auditing.osv_mirror import fetch_newest

    folder = runtime.local_store.root / "osv-codeartifact"
    return fetch_newest(runtime.osv_packages(), _ecosystems(project), folder, runtime.clock(), _err)


def _err(message: str, err: bool = True) -> None:
    import click

    click.echo(message, err=err)


def _ecosystems(project: Project) -> set[str]:
    from builder.auditing.components import components

    found, _ = components(project.tools.values(), load_lockfile(project.root))
    return {c.ecosystem for c in found}


def audit_command(project: Project, images: tuple[str, ...], options: AuditOptions, echo: Echo,
                  today: datetime.date | None = None) -> int:  # fmt: skip
    runtime = Runtime(project, os.environ)
    ignores = load_ignores(project.root, project.tools)
    check_expiry(ignores, today or datetime.date.today())
    names = project.select(images)
    offline = runtime.settings.audit_offline if options.offline is None else options.offline
    database = runtime.osv(_archives(runtime, options, project) if offline else None)
    audit = audit_images(project, load_lockfile(project.root), names, database, ignores)
    report = render(audit, options.fmt)
    if options.output:
        atomic_write(options.output, (report + "\n").encode())
        echo(f"wrote {options.output}", err=True)
    else:
        echo(report)
    if options.security_hub:
        _to_security_hub(runtime, audit, names, echo)
    return _exit_code(audit, options.fail_on, echo)


def _to_security_hub(runtime: Runtime, audit: Audit, images: list[str], echo: Echo) -> None:
    target = target_from_environment(runtime.env, runtime.settings.registry)
    synced = sync(
        runtime.security_hub(target.region), target, audit, images, datetime.datetime.now(datetime.UTC)
    )
    counts = f"{synced.imported} imported, {synced.resolved} resolved, {synced.unchanged} unchanged"
    echo(f"security hub: {counts}", err=True)


def _exit_code(audit: Audit, fail_on: str | None, echo: Echo) -> int:
    if fail_on is None:
        return 0
    failing = audit.failing(fail_on)
    if failing:
        echo(f"audit: {len(failing)} findings at {fail_on} or above (--fail-on {fail_on})", err=True)
        return 1
    return 0


def store_osv_command(project: Project, folder: Path | None, echo: Echo) -> int:
    """Mirror OSV's archives of every ecosystem the project's locked tools come from: into the
    CodeArtifact store when it is the project's (and no folder is named), else into a folder."""
    runtime = Runtime(project, os.environ)
    ecosystems = _ecosystems(project)
    base = runtime.settings.upstreams["osv_archive"]
    if folder is None and runtime.settings.store.kind == "codeartifact":
        from builder.auditing.osv_mirror import publish_archives

        store = runtime.osv_packages()
        version = publish_archives(runtime.http, base, ecosystems, store, runtime.clock(), echo)
        echo(
            f"store osv: archives published as version {version}; audit with `builder audit --offline`",
            err=True,
        )
        return 0
    target = folder or runtime.local_store.root / "osv"
    for path in mirror_archives(runtime.http, base, ecosystems, target):
        echo(f"{path} ({path.stat().st_size / 2**20:.1f} MiB)")
    echo(f"store osv: archives in {target}; audit with `builder audit --offline`", err=True)
    return 0
