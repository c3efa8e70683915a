"""`builder lock`: ask each tool's upstream, choose a version, verify and pin it.

Upstreams are asked concurrently; a tool whose entry is current is not asked at all unless
``upgrade``; a failing upstream loses no other tool's result but the lockfile is replaced only
when every requested tool resolved (or ``partial``, which keeps the failed tools' old entries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime

from builder.config.catalogue import Tool
from builder.config.document import suggest
from builder.config.names import printable
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import BuilderError, ConfigError, ProgramMissing, UserError
from builder.locking.continuity import Provenance, check_continuity, compare
from builder.locking.evidence import verified_by
from builder.locking.lockfile import LockedTool, Lockfile, Moved, check_entry, checked_entry, moved_digests
from builder.sources import SOURCES
from builder.sources.base import Source, allow_prereleases, choose
from builder.sources.signed import require_declared_openpgp


@dataclass(frozen=True)
class Change:
    tool: str
    old: str | None  # None: newly locked
    new: str
    verified: str  # how its digests were established, from the evidence records
    provenance: Provenance | None = None  # its signers, and how they changed against the old entry


@dataclass(frozen=True)
class Deferral:
    """A newer release was found, but it cannot be locked here (a program its source runs is missing)."""

    old: str | None
    new: str
    reason: str

    def __str__(self) -> str:
        return f"{self.old or '(new)'} -> {self.new} found, not locked here: {self.reason}"


class _Deferred(Exception):
    def __init__(self, version: str, reason: str) -> None:
        super().__init__(reason)
        self.version, self.reason = version, reason


@dataclass
class LockOutcome:
    lock: Lockfile
    changes: list[Change] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    deferred: dict[str, Deferral] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.removed)


def _tool_platforms(project: Project, name: str) -> tuple[Platform, ...]:
    """The platforms of every image that uses the tool (the settings' when none does)."""
    found = {p for image in project.images.values() if name in image.tools for p in image.platforms}
    return tuple(sorted(found)) or project.settings.platforms


def _stale_reason(project: Project, lock: Lockfile, tool: Tool) -> str | None:
    """Why a lock entry cannot stand for the catalogue's tool (None when it can); no network."""
    locked = lock.tools.get(tool.name)
    if locked is None:
        return "not locked"
    if not tool.constraint.allows(locked.version):
        return f"{locked.version} is outside '{tool.constraint.text}'"
    try:
        check_entry(locked, tool, _tool_platforms(project, tool.name))
    except ConfigError as e:
        return e.message.split(": run `", 1)[0].removeprefix(f"{tool.name}: ")
    return None


def stale(project: Project, lock: Lockfile) -> dict[str, str]:
    reasons = {t.name: r for t in project.tools.values() if (r := _stale_reason(project, lock, t))}
    reasons.update({name: "not in tools.yaml" for name in lock.tools if name not in project.tools})
    return dict(sorted(reasons.items()))


def lock_tools(
    project: Project,
    lock: Lockfile,
    names: tuple[str, ...],
    sources: Mapping[str, Source],
    now: datetime,
    upgrade: bool = False,
    jobs: int = 8,
    progress: Callable[[str], None] = lambda line: None,
    repin: frozenset[str] = frozenset(),
    accept: frozenset[str] = frozenset(),
) -> LockOutcome:
    """Lock the named tools (all by default); ``repin``: tools whose released bytes may change;
    ``accept``: tools whose new entry may have weaker provenance than the old (continuity)."""
    unknown = sorted(accept - project.tools.keys())
    if unknown:
        raise ConfigError("tools.yaml", f"no tool named '{unknown[0]}'{suggest(unknown[0], project.tools)}")
    selected = [project.tools[n] for n in (names or tuple(sorted(project.tools)))]
    todo = [t for t in selected if upgrade or t.name in repin or _stale_reason(project, lock, t)]
    outcome = LockOutcome(lock)

    def one(tool: Tool) -> tuple[Tool, LockedTool | None, str | Deferral | None]:
        try:
            source = sources[tool.source]
            flags = (tool.name in repin, tool.name in accept)
            return tool, _resolve(project, lock, tool, source, now, *flags), None
        except _Deferred as e:
            old = lock.tools.get(tool.name)
            return tool, None, Deferral(old.version if old else None, e.version, e.reason)
        except BuilderError as e:
            return tool, None, str(e)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        # Each tool's line as it resolves (a slow upstream holds back no other line); the outcome
        # itself is ordered by name, whatever order the upstreams answered in.
        for future in as_completed([pool.submit(one, tool) for tool in todo]):
            _record(outcome, lock, *future.result(), progress, accept)
    outcome.changes.sort(key=lambda change: change.tool)
    outcome.failures = dict(sorted(outcome.failures.items()))
    outcome.deferred = dict(sorted(outcome.deferred.items()))
    if not names:
        outcome.removed = sorted(n for n in lock.tools if n not in project.tools)
        kept = {n: t for n, t in outcome.lock.tools.items() if n not in outcome.removed}
        outcome.lock = Lockfile(kept, outcome.lock.schema)
    return outcome


def _resolve(
    project: Project, lock: Lockfile, tool: Tool, source: Source, now: datetime, repin: bool, accept: bool
) -> LockedTool | None:
    """The new entry, or None when the locked one is already the version to take."""
    release = choose(tool, source.releases(tool), now, _scheme(tool), allow_prereleases(tool))
    current = lock.tools.get(tool.name)
    if (
        current
        and current.version == release.version
        and not repin
        and not _stale_reason(project, lock, tool)
    ):
        return None
    try:
        new = checked_entry(source.lock(tool, release, _tool_platforms(project, tool.name)))
    except ProgramMissing as e:
        raise _Deferred(release.version, e.message) from None
    moved = moved_digests(current, new) if current else []
    if moved and not repin:
        raise _ReleaseChanged(tool.name, new.version, moved)
    require_declared_openpgp(tool, new)
    check_continuity(current, new, accept, _keyring(tool))
    return new


def _keyring(tool: Tool) -> bool:
    return tool.provenance is not None and tool.provenance.any_keyring_key


class _ReleaseChanged(UserError):
    def __init__(self, tool: str, version: str, moved: list[Moved]) -> None:
        super().__init__(
            f"the upstream changed a released version: {tool} {version}: {'; '.join(map(str, moved))}. "
            f"Nothing was written; if the new bytes are expected, accept them with "
            f"`builder lock --repin {tool}`"
        )


def _scheme(tool: Tool) -> str:
    return SOURCES[tool.source].scheme


def _record(
    outcome: LockOutcome,
    lock: Lockfile,
    tool: Tool,
    locked: LockedTool | None,
    error: str | Deferral | None,
    progress: Callable[[str], None],
    accept: frozenset[str],
) -> None:
    old = lock.tools.get(tool.name)
    if isinstance(error, Deferral):
        outcome.deferred[tool.name] = error
        progress(f"DEFERRED   {tool.name}: {error}")
    elif error:
        # It quotes an upstream's answer, and is printed, logged and put in a pull request.
        outcome.failures[tool.name] = error = printable(error)
        progress(f"FAILED     {tool.name}: {error}")
    elif locked is None:
        progress(f"current    {tool.name} {old.version if old else ''}")
    else:
        outcome.lock = outcome.lock.with_tool(locked)
        outcome.changes.append(
            Change(
                tool.name,
                old.version if old else None,
                locked.version,
                verified_by(locked.payload.evidence()),
                compare(old, locked, tool.name in accept, _keyring(tool)),
            )
        )
        progress(f"locked     {tool.name} {old.version + ' -> ' if old else ''}{locked.version}")
