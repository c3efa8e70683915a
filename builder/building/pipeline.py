"""Building images: contexts from the store, BuildKit builds in graph order, independent ones in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from builder.building.build_context import assemble, context_dir, locked
from builder.building.buildkit import (
    BuildRequest,
    build,
    image_exists,
    image_size,
    inspect_tags,
    push,
    registry_has,
)
from builder.building.engine import DockerClient
from builder.building.render import ImagePlan, image_repository, plan_images
from builder.building.secrets import BuildSecrets
from builder.config.graph import ancestors, levels
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.locking.lockfile import Lockfile
from builder.plumbing.progress import BuildKitLog, human
from builder.stores.base import ArtifactStore

Log = Callable[[str, str], None]  # image, line
Gate = Callable[[str, str], None]  # image, tag: raises to keep that image from being pushed


@dataclass(frozen=True)
class BuildOptions:
    platform: Platform
    jobs: int = 1
    push: bool = False
    no_cache: bool = False
    network: str | None = None
    rebuild: bool = False  # build even when the tag (which names the content) already exists
    verbose: bool = False  # BuildKit's whole plain log; by default one line per finished stage


@dataclass(frozen=True)
class Built:
    image: str
    tag: str
    seconds: float
    skipped: bool = False
    digest: str | None = None  # the registry's manifest digest, once pushed
    in_registry: bool = False  # already there before this run: nothing was built, tested or pushed
    size: int | None = None  # bytes, as the engine reports the image (None: not on this engine)


def image_tag(project: Project, plan: ImagePlan, platform: Platform) -> str:
    return f"{image_repository(project, plan.name)}:{plan.tag}-{platform.arch}"


def build_images(
    project: Project,
    lock: Lockfile,
    names: list[str],
    store: ArtifactStore,
    client: DockerClient,
    secrets: Callable[[], BuildSecrets],
    options: BuildOptions,
    log: Log,
    gate: Gate | None = None,
    plans: dict[str, ImagePlan] | None = None,
) -> list[Built]:
    """Build ``names`` (plus any ancestor whose tag is not present) in dependency order.

    With ``options.push`` an image the registry already holds is left alone, and every other
    one passes ``gate`` (the smoke test) before it is pushed. ``plans``: the caller's render of
    ``names`` and their ancestors, when it has one (a no-op build renders once).
    """
    plans = plans if plans is not None else plan_images(project, lock)
    family = set(names).union(*(ancestors(name, project.images) for name in names))
    present = inspect_tags(client, {image_tag(project, plans[n], options.platform) for n in family})
    wanted = set(names) | {n for n in family if image_tag(project, plans[n], options.platform) not in present}
    run = _Run(project, lock, store, client, secrets, options, log, gate, present)
    built: list[Built] = []
    guard = threading.Lock()

    def one(name: str) -> None:
        result = _build_one(run, plans[name])
        with guard:
            built.append(result)

    for group in levels(project.images):
        todo = [n for n in group if n in wanted]
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            for future in [pool.submit(one, n) for n in todo]:
                future.result()  # the first failure stops the run before the next level
    return built


@dataclass(frozen=True)
class _Run:
    """What every image of one `build` shares."""

    project: Project
    lock: Lockfile
    store: ArtifactStore
    client: DockerClient
    secrets: Callable[[], BuildSecrets]
    options: BuildOptions
    log: Log
    gate: Gate | None
    present: dict[str, int | None]  # tags the engine had when the run began, with their sizes


def _build_one(run: _Run, plan: ImagePlan) -> Built:
    options, client = run.options, run.client
    tag = image_tag(run.project, plan, options.platform)
    started, forced = time.monotonic(), options.rebuild or options.no_cache
    if options.push and not forced and registry_has(client, tag):
        _verbose(
            run, plan.name, f"{tag} is already in the registry (its tag names its content): nothing to do"
        )
        return Built(plan.name, tag, time.monotonic() - started, skipped=True, in_registry=True)
    skipped = not forced and tag in run.present
    if skipped:
        _verbose(
            run, plan.name, f"{tag} is up to date (its tag names its content; --rebuild builds it anyway)"
        )
    else:
        _build_image(run, plan, tag)
    size = run.present[tag] if skipped else image_size(client, tag)
    seconds = time.monotonic() - started
    if not options.push:
        return Built(plan.name, tag, seconds, skipped=skipped, size=size)
    if run.gate:
        run.gate(plan.name, tag)
    digest = _push(run, tag, plan.name)
    return Built(plan.name, tag, seconds, skipped=skipped, digest=digest, size=size)


def _verbose(run: _Run, image: str, line: str) -> None:
    """A line only `--progress plain` shows: the compact output says it in its final table."""
    if run.options.verbose:
        run.log(image, line)


def _build_image(run: _Run, plan: ImagePlan, tag: str) -> None:
    started, platform = time.monotonic(), run.options.platform
    absent = _absent_base(run, plan.name)
    if absent:
        run.log(plan.name, f"note: base image {absent} is not on this machine; the build will try to pull it "
                           f"(no registry here? make it with: builder base-image {absent})")  # fmt: skip
    _verbose(run, plan.name, f"building {tag}")
    with locked(context_dir(run.project, plan.name, platform)) as folder:
        context = assemble(run.project, run.lock, plan.name, platform, run.store, folder)
        found = run.secrets()
        request = BuildRequest(context, tag, platform, found.files, run.options.network, run.options.no_cache)
        stages = BuildKitLog(lambda done: run.log(plan.name, done.line()))
        build(run.client, request, _raw_lines(run, plan.name), found.values, stages)
    _verbose(run, plan.name, f"built {tag} in {time.monotonic() - started:.1f} s")


def _raw_lines(run: _Run, image: str) -> Callable[[str], None]:
    if run.options.verbose:
        return lambda line: run.log(image, line)
    return lambda line: None


def _push(run: _Run, tag: str, image: str) -> str:
    _verbose(run, image, f"pushing {tag}")
    digest = push(run.client, tag, _raw_lines(run, image))
    run.log(image, f"pushed {tag}@{digest}")
    return digest


def _absent_base(run: _Run, name: str) -> str | None:
    """The external base, unless pinned by digest or already on the engine: BuildKit would pull it."""
    external = run.project.images[name].base.external
    base = run.project.settings.base_images[external] if external else None
    if base is None or base.digest is not None or image_exists(run.client, base.ref):
        return None
    return base.ref


def table(built: list[Built]) -> list[str]:
    """The final table: one row per image (tag, size, built or up to date, seconds), no header."""
    width = max((len(item.tag) for item in built), default=0)
    return [f"{item.tag:<{width}}  {_size(item):>10}  {_state(item)}" for item in built]


def _size(item: Built) -> str:
    return human(item.size) if item.size is not None else "-"


def _state(item: Built) -> str:
    if item.in_registry:
        return "already in the registry"
    state = "up to date" if item.skipped else "built"
    state = f"{state:<10} {item.seconds:6.1f} s"
    return f"{state}  smoke-tested, pushed as {item.digest}" if item.digest else state
