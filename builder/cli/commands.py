"""What each CLI command does, as library calls that print through a given function.

The CLI and the Lambda handler are thin: they build arguments and call these.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from builder.building.buildkit import BuildError
from builder.building.fetch import artifact_refs, fetch
from builder.building.pipeline import BuildOptions, Gate, build_images, image_tag
from builder.building.pipeline import table as build_table
from builder.building.render import Rendering, drift, plan_images, render_images, render_project, stale_files
from builder.building.secrets import Once, check_user_secrets, private_folder
from builder.cli.status import drift_of, record_builds
from builder.config.document import suggest
from builder.config.graph import ancestors
from builder.config.names import printable
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import ConfigError, UserError
from builder.locking.continuity import provenance_text
from builder.locking.lockfile import NAME, SCHEMA, Lockfile, load_lockfile, write_lockfile
from builder.plumbing.fsutil import within, write_all
from builder.plumbing.progress import Progress
from builder.runtime import Runtime
from builder.stores.base import ArtifactStore

# What only some commands need is imported in them: a no-op `builder build` is mostly start-up.
if TYPE_CHECKING:
    from builder.building.smoke import CheckResult
    from builder.locking.resolver import LockOutcome
    from builder.stores.base import RepositoryStore

Echo = Callable[..., None]


def render_command(project: Project, images: tuple[str, ...], check: bool, echo: Echo) -> int:
    names = tuple(project.select(images)) if images else ()
    files = render_project(project, load_lockfile(project.root), names)
    if check:
        return _report_drift(project, files, names, echo)
    changed = write_all({within(project.root, project.root / p): data for p, data in files.items()})
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


def _runtime(project: Project) -> Runtime:
    """The CLI's wiring: this process's environment (read here only), the user's cache folder."""
    return Runtime(project, os.environ)


def fetch_command(
    project: Project,
    images: tuple[str, ...],
    platforms: tuple[Platform, ...],
    context: Path | None,
    echo: Echo,
) -> int:
    names = project.select(images)
    lock = load_lockfile(project.root)
    store = _runtime(project).store()
    if not _fetched(project, lock, names, platforms, store, echo):
        return 1
    if context is not None:
        if len(names) != 1 or len(platforms) != 1:
            raise UserError("--context needs exactly one image and one --platform")
        from builder.building.build_context import assemble

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
    quiet: bool = False,
) -> bool:
    """``quiet``: a warm store prints nothing (a build's fetch speaks only when it downloads)."""
    refs = artifact_refs(project, lock, names, platforms or None)
    report = fetch(refs, store, Progress(len(refs), quiet_cached=quiet), limits=project.settings.http)
    if not quiet or report.downloaded or report.failed:
        echo(f"fetch: {report.summary()}", err=True)
    for ref, error in report.failed:
        echo(f"error: {ref}: {error}", err=True)
    return not report.failed


def build_command(
    project: Project,
    images: tuple[str, ...],
    options: BuildOptions,
    echo: Echo,
    junit: Path | None = None,
    strict: bool = False,
) -> int:
    names = project.select(images)
    lock, wiring = load_lockfile(project.root), _runtime(project)
    check_user_secrets(project, names, wiring.env)  # an unset ${VAR} in the npmrc: before any docker work
    client = wiring.docker  # before any download
    store = wiring.store()
    rendering = check_rendered(project, lock, names, strict, echo)  # after those: their errors stay alone
    if not _fetched(project, lock, names, (options.platform,), store, echo, quiet=not options.verbose):
        return 1
    suites: dict[str, list[CheckResult]] = {}
    try:
        with private_folder() as folder:
            secrets = Once(lambda: wiring.build_secrets(folder))
            gate = _smoke_gate(project, lock, echo, suites)
            built = build_images(
                project, lock, names, store, client, secrets, options, _prefixed(echo), gate, rendering.plans
            )
    except BuildError as e:
        for line in e.tail_lines():  # above the one-line error, which stays the last line
            echo(printable(line), err=True)
        raise
    finally:
        if junit and suites:
            from builder.building.smoke import write_junit

            write_junit(junit, suites)
    record_builds(
        project, rendering.plans, [item.image for item in built if not item.in_registry], options.platform
    )
    for row in build_table(built):
        echo(row)
    return 0


def check_rendered(project: Project, lock: Lockfile, names: list[str], strict: bool, echo: Echo) -> Rendering:
    """The build renders afresh; committed buildspecs/ that differ are a warning (an error if strict)."""
    family = tuple(sorted(set(names).union(*(ancestors(name, project.images) for name in names))))
    rendering = render_images(project, lock, family)
    found = drift_of(project, rendering.files, family)
    if not found:
        return rendering
    first = found[0].text() + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
    if strict:
        raise UserError(f"committed {first}: --strict builds only what is committed; run `builder render`")
    echo(
        f"warning: committed {first}; building from a fresh render (`builder render` updates them)", err=True
    )
    return rendering


def status_command(project: Project, platform: Platform, as_json: bool, echo: Echo) -> int:
    """`builder status`: what a build would do now; asks the engine and the HTTP cache, nothing else."""
    import json

    from builder.building.buildkit import inspect_tags
    from builder.building.engine import EngineError
    from builder.cli import status
    from builder.plumbing.workdir import scratch
    from builder.sources import make_sources

    lock, now, wiring = load_lockfile(project.root), datetime.now(UTC), _runtime(project)
    try:
        tags = status.candidate_tags(project, lock, platform)
        present: frozenset[str] | None = frozenset(inspect_tags(wiring.docker, tags))
    except EngineError:
        present = None
    with scratch("lock") as work:  # the sources want a work folder; offline, nothing lands in it
        online = wiring.source_deps(work)
        ctx = dataclasses.replace(online, http=status.offline_http(wiring.cache / "http"), store=None)
        found = status.gather(project, lock, platform, present, make_sources(ctx), now)
    if as_json:
        echo(json.dumps(found.to_data(now), indent=2))
    else:
        for line in status.status_lines(found, now):
            echo(line)
    return 0


def manifest_command(project: Project, images: tuple[str, ...], echo: Echo) -> int:
    from builder.building.manifest import publish_indexes  # imported late: only this verb needs it

    names = project.select(images)
    client = _runtime(project).docker
    for item in publish_indexes(project, load_lockfile(project.root), names, client, _prefixed(echo)):
        echo(f"{item.index}  ({f'pushed as {item.digest}' if item.digest else 'already in the registry'})")
    return 0


def _smoke_gate(project: Project, lock: Lockfile, echo: Echo, suites: dict[str, list[CheckResult]]) -> Gate:
    """Smoke-test an image before it is pushed: an image that fails never reaches the registry."""
    from builder.building.smoke import smoke_image, table

    guard = threading.Lock()

    def gate(name: str, tag: str) -> None:
        results = smoke_image(project, lock, name, tag)
        with guard:
            suites[name] = results
            echo(f"smoke: {name} ({tag})\n{table(results)}")
        failed = [r.name for r in results if not r.ok]
        if failed:
            raise UserError(f"{name}: smoke check failed ({', '.join(failed)}): {tag} is not pushed")

    return gate


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
    from builder.building.smoke import smoke_image, table, write_junit

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


def lock_command(project: Project, tools: tuple[str, ...], options: LockOptions, echo: Echo) -> int:
    from builder.locking.resolver import lock_tools
    from builder.plumbing.workdir import scratch

    for name in (*tools, *sorted(options.repin), *sorted(options.accept)):
        if name not in project.tools:
            raise ConfigError("tools.yaml", f"no tool named '{name}'{suggest(name, project.tools)}")
    if tools:
        tools = (*tools, *sorted(options.repin - set(tools)))
    lock = load_lockfile(project.root)
    if options.check:
        return _report_stale(project, lock, tools, echo)
    wiring = _runtime(project)
    with scratch("lock") as work:
        sources = wiring.sources(work, tools)
        outcome = lock_tools(project, lock, tools, sources, wiring.clock(),
                             options.upgrade, options.jobs, lambda line: echo(line, err=True),
                             repin=options.repin, accept=options.accept)  # fmt: skip
    return _finish_lock(project, outcome, options.partial, echo)


@dataclass(frozen=True)
class LockOptions:
    upgrade: bool = False
    check: bool = False
    partial: bool = False
    jobs: int = 8
    repin: frozenset[str] = frozenset()  # tools whose already-locked bytes may be replaced
    accept: frozenset[str] = frozenset()  # tools whose new entry may have weaker provenance


def _report_stale(project: Project, lock: Lockfile, tools: tuple[str, ...], echo: Echo) -> int:
    from builder.locking.resolver import stale as stale_tools

    reasons = {n: r for n, r in stale_tools(project, lock).items() if not tools or n in tools}
    for name, reason in reasons.items():
        echo(f"stale: {name}: {reason}")
    if lock.schema != SCHEMA:
        echo(f"{NAME} is schema {lock.schema}: run `builder lock` to migrate it to schema {SCHEMA}", err=True)
        return 1
    if reasons:
        echo(f"{NAME} is stale for {len(reasons)} tool(s): run `builder lock`", err=True)
        return 1
    echo(f"{NAME} is current for {len(project.tools)} tools", err=True)
    return 0


def _finish_lock(project: Project, outcome: LockOutcome, partial: bool, echo: Echo) -> int:
    # Asked for by name, a tool that cannot be locked here (no npm) has failed, whatever the reason.
    failed = {**outcome.failures, **{name: str(d) for name, d in outcome.deferred.items()}}
    for change in outcome.changes:
        echo(f"{change.tool}: {change.old or '(new)'} -> {change.new}   {change.verified}")
        if change.provenance is not None:
            echo(f"  provenance: {provenance_text(change.provenance)}")
    for name in outcome.removed:
        echo(f"{name}: removed (not in tools.yaml)")
    for name, error in failed.items():
        echo(f"error: {name}: {error}", err=True)
    if failed and not partial:
        echo(f"{NAME} left unchanged: {len(failed)} tool(s) failed (--partial keeps the others)", err=True)
        return 1
    migrated = outcome.lock.schema != SCHEMA
    if outcome.changed or migrated:
        write_lockfile(project.root, outcome.lock)
        kept = f"; kept the old entries of {', '.join(failed)}" if failed else ""
        schema = f"; migrated from schema {outcome.lock.schema} to {SCHEMA}" if migrated else ""
        echo(
            f"wrote {NAME}: {len(outcome.changes)} locked, {len(outcome.removed)} removed{kept}{schema}",
            err=True,
        )
    else:
        echo(f"{NAME} is up to date", err=True)
    return 1 if failed else 0


def update_command(
    project: Project,
    publish: bool,
    repository: str | None,
    jobs: int,
    echo: Echo,
    accept: frozenset[str] = frozenset(),
) -> int:
    from builder.plumbing.workdir import scratch
    from builder.updating.updater import run_update

    lock = load_lockfile(project.root)
    wiring = _runtime(project)
    if publish and project.settings.store.codeartifact is None:
        raise UserError("--publish needs store.codeartifact in builder.yaml")
    mirror = wiring.mirror() if publish else None
    github = wiring.github(repository) if repository else None
    with scratch("update") as work:
        report = run_update(project, lock, wiring.sources(work), wiring.clock(), mirror, github,
                            lambda line: echo(line, err=True), jobs, accept, wiring.osv(),
                            wiring.trust_refresh())  # fmt: skip
    for change in report.changes:
        echo(f"{change.tool}: {change.old or '(new)'} -> {change.new}")
    for name, error in report.failures.items():
        echo(f"error: {name}: {error}", err=True)
    for name, deferral in report.deferred.items():
        echo(f"note: {name}: {deferral}", err=True)
    counts = f"{len(report.changes)} updates, {report.published} published, {len(report.failures)} failed"
    echo(f"update: {counts}, {len(report.deferred)} deferred", err=True)
    return 1 if report.failures else 0


def _codeartifact(wiring: Runtime) -> RepositoryStore:
    if wiring.settings.store.kind != "codeartifact":
        raise UserError(
            "builder.yaml's store is local: `builder fetch` fills it (set store.kind: codeartifact)"
        )
    return wiring.codeartifact()


def store_init_command(project: Project, echo: Echo) -> int:
    from builder.stores.sync import seed

    wiring = _runtime(project)
    target = _codeartifact(wiring)
    problems = 0
    for check in target.check_repositories():
        echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.role} repository {check.repository}"
             + (f": {check.problem}" if check.problem else ""))  # fmt: skip
        problems += 0 if check.ok else 1
    local = wiring.local_store
    report = seed(project, load_lockfile(project.root), local, target, lambda line: echo(line, err=True))
    for ref, error in report.failed.items():
        echo(f"error: {ref}: {error}", err=True)
    echo(f"store init: {len(report.published)} published, {len(report.present)} already there, "
         f"{len(report.failed)} failed, {problems} repository problem(s)", err=True)  # fmt: skip
    return 1 if report.failed or problems else 0


def store_verify_command(project: Project, echo: Echo) -> int:
    from builder.stores.sync import locked_refs, verify

    store = _runtime(project).store()
    lock = load_lockfile(project.root)
    problems = verify(project, lock, store)
    for ref, problem in problems:
        echo(f"{ref}: {problem}")
    total = len(locked_refs(project, lock))
    echo(
        f"store verify: {total - len(problems)} of {total} locked artifacts in the {store.name} store",
        err=True,
    )
    return 1 if problems else 0


def store_prune_command(project: Project, keep: int, tools: tuple[str, ...], echo: Echo) -> int:
    store = _codeartifact(_runtime(project))
    lock = load_lockfile(project.root)
    names = tools or tuple(sorted(n for n, t in project.tools.items() if not t.platform_independent))
    disposed = 0
    for name in names:
        protect = (lock.tools[name].version,) if name in lock.tools else ()
        gone = store.prune(name, keep, protect)
        disposed += len(gone)
        echo(f"{name}: {'disposed ' + ', '.join(gone) if gone else 'nothing to prune'}")
    echo(f"store prune: {disposed} version(s) disposed, newest {keep} of each tool kept", err=True)
    return 0
