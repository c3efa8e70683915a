"""builder: pinned, verified, rebuilt and updated container images for CI scanners.

The library is these few functions, each what the command of the same name does, without the
printing; every module below is private. They take the project's folder (the one holding
builder.yaml) and read this process's environment as the CLI does (GITHUB_TOKEN,
BUILDER_CODEARTIFACT_*, BUILDER_DOCKER). Failures raise the errors of ``builder.errors`` (public
too): a ``ConfigError`` for a bad definition, another ``BuilderError`` for what failed.
Nothing is imported until a function is called: ``import builder`` stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing's, without importing typing: `import builder` stays cheap
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from builder.building.pipeline import Built
    from builder.config.platforms import Platform
    from builder.config.project import Project
    from builder.locking.lockfile import Lockfile
    from builder.locking.resolver import LockOutcome
    from builder.runtime import Runtime
    from builder.stores.base import ArtifactStore
    from builder.updating.updater import UpdateReport

    Log = Callable[[str], None]
    ImageLog = Callable[[str, str], None]  # image, line

__version__ = "0.1.0"
__all__ = ["__version__", "build", "load_project", "lock", "render", "update"]


def load_project(root: Path | str) -> Project:
    """The project in ``root``, checked, with the environment's overrides (BUILDER_CODEARTIFACT_*)."""
    import os
    from pathlib import Path

    from builder.config import project

    return project.with_environment(project.load_project(Path(root).resolve()), os.environ)


def render(root: Path | str, images: Sequence[str] = ()) -> dict[str, bytes]:
    """The files `builder render` writes for ``images`` (all by default), by path under ``root``."""
    from builder.building.render import render_project
    from builder.locking.lockfile import load_lockfile

    project = load_project(root)
    names = tuple(project.select(tuple(images))) if images else ()
    return render_project(project, load_lockfile(project.root), names)


def lock(
    root: Path | str,
    tools: Sequence[str] = (),
    *,
    upgrade: bool = False,
    jobs: int = 8,
    log: Log | None = None,
    accept_provenance_change: Sequence[str] = (),
) -> LockOutcome:
    """Resolve and verify ``tools`` (by default every tool whose entry is missing or stale; with
    ``upgrade`` their newest allowed releases), then write builder.lock, unless a tool failed: the
    outcome says what changed, what failed and what was deferred (a tool this machine cannot lock).
    A tool whose signer changed fails unless ``accept_provenance_change`` names it."""
    from builder.locking.lockfile import load_lockfile, write_lockfile
    from builder.locking.resolver import lock_tools
    from builder.plumbing.workdir import scratch

    project = load_project(root)
    named = _tool_names(project, tools)
    with scratch("lock") as work:
        wiring = _runtime(project)
        outcome = lock_tools(project, load_lockfile(project.root), named, wiring.sources(work, named),
                             wiring.clock(), upgrade, jobs, log or _silent,
                             accept=frozenset(accept_provenance_change))  # fmt: skip
    if outcome.changed and not outcome.failures and not outcome.deferred:
        write_lockfile(project.root, outcome.lock)
    return outcome


def build(
    root: Path | str,
    images: Sequence[str] = (),
    *,
    platform: str | None = None,
    jobs: int = 1,
    rebuild: bool = False,
    no_cache: bool = False,
    log: ImageLog | None = None,
) -> list[Built]:
    """Fetch and verify what ``images`` (all by default) need, then build them with BuildKit from
    a fresh render, parents first, for ``platform`` ("linux/amd64"; by default this machine's).
    Nothing is pushed; an image whose tag the engine holds is not built again unless ``rebuild``."""
    from builder.building.pipeline import BuildOptions, build_images
    from builder.building.secrets import Once, check_user_secrets, private_folder
    from builder.config.platforms import Platform, host_platform
    from builder.locking.lockfile import load_lockfile

    project = load_project(root)
    names, lockfile, wiring = project.select(tuple(images)), load_lockfile(project.root), _runtime(project)
    target = Platform.parse(platform) if platform else host_platform()
    check_user_secrets(project, names, wiring.env)
    store = wiring.store()
    _fetch(project, lockfile, names, target, store)
    options = BuildOptions(target, jobs, no_cache=no_cache, network=project.settings.docker_network,
                           rebuild=rebuild)  # fmt: skip
    with private_folder() as folder:
        secrets = Once(lambda: wiring.build_secrets(folder))
        return build_images(project, lockfile, names, store, wiring.docker, secrets, options,
                            log or (lambda image, line: None))  # fmt: skip


def update(
    root: Path | str,
    *,
    publish: bool = False,
    repository: str | None = None,
    jobs: int = 8,
    log: Log | None = None,
    accept_provenance_change: Sequence[str] = (),
) -> UpdateReport:
    """What `builder update` does: every tool's newest allowed release, verified (builder.lock is
    not written); ``publish`` mirrors the new artifacts into the CodeArtifact store, and
    ``repository`` ("owner/name") opens or refreshes the one bump pull request there.
    A tool whose signer changed fails unless ``accept_provenance_change`` names it."""
    from builder.errors import UserError
    from builder.locking.lockfile import load_lockfile
    from builder.plumbing.workdir import scratch
    from builder.updating.updater import run_update

    project = load_project(root)
    if publish and project.settings.store.codeartifact is None:
        raise UserError("publish needs store.codeartifact in builder.yaml")
    wiring = _runtime(project)
    mirror = wiring.mirror() if publish else None
    github = wiring.github(repository) if repository else None
    accept = frozenset(accept_provenance_change)
    with scratch("update") as work:
        return run_update(project, load_lockfile(project.root), wiring.sources(work), wiring.clock(),
                          mirror, github, log or _silent, jobs, accept, wiring.osv())  # fmt: skip


def _runtime(project: Project) -> Runtime:
    import os

    from builder.runtime import Runtime

    return Runtime(project, os.environ)


def _tool_names(project: Project, tools: Sequence[str]) -> tuple[str, ...]:
    from builder.config.document import suggest
    from builder.errors import ConfigError

    for name in tools:
        if name not in project.tools:
            raise ConfigError("tools.yaml", f"no tool named '{name}'{suggest(name, project.tools)}")
    return tuple(tools)


def _fetch(
    project: Project, lockfile: Lockfile, names: list[str], platform: Platform, store: ArtifactStore
) -> None:
    """Put the artifacts the images need in the store, verified; the first failure raises."""
    import io

    from builder.building.fetch import artifact_refs, fetch
    from builder.errors import UserError
    from builder.plumbing.progress import Progress

    refs = artifact_refs(project, lockfile, names, [platform])
    report = fetch(refs, store, Progress(len(refs), io.StringIO()), limits=project.settings.http)
    for ref, error in report.failed:
        raise UserError(f"{ref}: {error}")


def _silent(line: str) -> None:
    """The default ``log``: a library prints nothing it was not asked to."""
