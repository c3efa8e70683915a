"""Building images: contexts from the store, BuildKit builds in graph order, independent ones in parallel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from builder.context import assemble, context_dir, locked
from builder.docker import BuildRequest, build, image_exists, push
from builder.engine import DockerClient
from builder.graph import ancestors, levels
from builder.lockfile import Lockfile
from builder.platforms import Platform
from builder.project import Project
from builder.render import ImagePlan, image_repository, plan_images
from builder.secrets import BuildSecrets
from builder.stores.base import ArtifactStore

Log = Callable[[str, str], None]  # image, line


@dataclass(frozen=True)
class BuildOptions:
    platform: Platform
    jobs: int = 1
    push: bool = False
    no_cache: bool = False
    network: str | None = None
    rebuild: bool = False  # build even when the tag (which names the content) already exists


@dataclass(frozen=True)
class Built:
    image: str
    tag: str
    seconds: float
    skipped: bool = False
    digest: str | None = None  # the registry's manifest digest, once pushed


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
) -> list[Built]:
    """Build ``names`` (plus any ancestor whose tag is not present) in dependency order."""
    plans = plan_images(project, lock)
    wanted = _with_missing_ancestors(project, plans, names, client, options.platform)
    built: list[Built] = []
    guard = threading.Lock()

    def one(name: str) -> None:
        result = _build_one(project, lock, plans[name], store, client, secrets, options, log)
        with guard:
            built.append(result)

    for group in levels(project.images):
        todo = [n for n in group if n in wanted]
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            for future in [pool.submit(one, n) for n in todo]:
                future.result()  # the first failure stops the run before the next level
    return built


def absent_bases(project: Project, names: list[str], client: DockerClient) -> list[str]:
    """External base images, not pinned by digest, that the engine does not have: BuildKit would pull them."""
    family = set(names).union(*(ancestors(name, project.images) for name in names))
    refs = {
        project.settings.base_images[base].ref
        for name in family
        if (base := project.images[name].base.external) and project.settings.base_images[base].digest is None
    }
    return sorted(ref for ref in refs if not image_exists(client, ref))


def _with_missing_ancestors(
    project: Project, plans: dict[str, ImagePlan], names: list[str], client: DockerClient, platform: Platform
) -> set[str]:
    wanted = set(names)
    for name in names:
        for parent in ancestors(name, project.images):
            if not image_exists(client, image_tag(project, plans[parent], platform)):
                wanted.add(parent)
    return wanted


def _build_one(
    project: Project,
    lock: Lockfile,
    plan: ImagePlan,
    store: ArtifactStore,
    client: DockerClient,
    secrets: Callable[[], BuildSecrets],
    options: BuildOptions,
    log: Log,
) -> Built:
    tag = image_tag(project, plan, options.platform)
    started = time.monotonic()
    if not (options.rebuild or options.no_cache) and image_exists(client, tag):
        log(plan.name, f"{tag} is up to date (its tag names its content; --rebuild builds it anyway)")
        digest = _push(client, tag, plan.name, log) if options.push else None
        return Built(plan.name, tag, time.monotonic() - started, skipped=True, digest=digest)
    log(plan.name, f"building {tag}")
    with locked(context_dir(project, plan.name, options.platform)) as folder:
        context = assemble(project, lock, plan.name, options.platform, store, folder)
        found = secrets()
        request = BuildRequest(context, tag, options.platform, found.files, options.network, options.no_cache)
        build(client, request, lambda line: log(plan.name, line), found.values)
    seconds = time.monotonic() - started
    log(plan.name, f"built {tag} in {seconds:.1f} s")
    digest = _push(client, tag, plan.name, log) if options.push else None
    return Built(plan.name, tag, time.monotonic() - started, digest=digest)


def _push(client: DockerClient, tag: str, image: str, log: Log) -> str:
    log(image, f"pushing {tag}")
    digest = push(client, tag, lambda line: log(image, line))
    log(image, f"pushed {tag}@{digest}")
    return digest
