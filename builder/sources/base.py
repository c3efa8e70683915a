"""What every upstream source provides, and how a version is chosen from what it offers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packaging.version import InvalidVersion, Version

from builder.config import names
from builder.config.catalogue import Tool
from builder.config.platforms import Platform
from builder.config.settings import Settings
from builder.config.versions import semver_key
from builder.errors import ArtifactName, DownloadError, SignatureError, UpstreamError
from builder.locking.lockfile import LockedTool

__all__ = ["Release", "SignatureError", "Source", "SourceDeps", "UpstreamError", "choose"]

if TYPE_CHECKING:
    from builder.plumbing.http import Downloaded, HttpClient
    from builder.stores.base import ArtifactStore


@dataclass(frozen=True)
class Release:
    version: str  # without a leading "v"
    published: datetime | None = None  # timezone-aware UTC
    prerelease: bool = False
    yanked: bool = False
    notes_url: str = ""


@dataclass(frozen=True)
class SourceDeps:
    """Everything a source may use; all of it passed in, so tests point it at 127.0.0.1."""

    http: HttpClient
    settings: Settings
    base_urls: Mapping[str, str]
    keys_dir: Path
    work_dir: Path
    store: ArtifactStore | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # when a cooldown ends

    def url(self, name: str) -> str:
        return self.base_urls[name].rstrip("/")

    def download(
        self, artifact: ArtifactName, url: str, dest: Path, headers: Mapping[str, str] | None = None
    ) -> Downloaded:
        """``http.download`` whose failures name the artifact (tool, version, platform, file).

        Nothing is left at ``dest`` when it fails: unverified bytes must not be found and used.
        """
        try:
            return self.http.download(url, dest, headers)
        except UpstreamError as e:
            dest.unlink(missing_ok=True)
            raise DownloadError(artifact, e) from None


class Source(Protocol):
    def releases(self, tool: Tool) -> list[Release]:
        """Every release the upstream offers (drafts excluded; prereleases and yanked marked)."""
        ...

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        """Download, verify and pin one release for these platforms (raises on any mismatch)."""
        ...


def sort_key(scheme: str) -> Callable[[Release], Any]:
    """Orders releases newest last: PEP 440 for Python apps, release numbers for the rest."""
    if scheme == "pep440":
        return lambda release: _pep440(release.version)
    return lambda release: semver_key(release.version)


def _pep440(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def allow_prereleases(tool: Tool) -> bool:
    """What the catalogue's ``prereleases`` key says (false when the source has no such key)."""
    return tool.flag("prereleases")


def choose(
    tool: Tool, releases: Sequence[Release], now: datetime, scheme: str, allow_prereleases: bool = False
) -> Release:
    """The newest release the constraint allows that is not yanked, not a prerelease and old enough."""
    tried = []
    candidates = []
    for release in releases:
        reason = _refusal(tool, release, now, allow_prereleases)
        if reason:
            tried.append(f"{release.version} ({reason})")
        else:
            candidates.append(release)
    if not candidates:
        shown = ", ".join(tried[:8]) + (" ..." if len(tried) > 8 else "") or "none offered"
        raise UpstreamError(f"{tool.name}: no release satisfies '{tool.constraint.text}' (tried: {shown})")
    return max(candidates, key=sort_key(scheme))


def dependency_cutoff(tool: Tool, now: datetime) -> datetime | None:
    """The newest upload a tool's dependency set may take (its cooldown covers them too, so a
    dependency published an hour ago never enters a lock); None when the tool has no cooldown."""
    return now - tool.cooldown if tool.cooldown else None


def _pinnable(version: str) -> bool:
    try:
        names.check("version", version)
    except ValueError:
        return False
    return True


def _refusal(tool: Tool, release: Release, now: datetime, allow_prereleases: bool) -> str | None:
    if not _pinnable(release.version):
        # It becomes a path, a URL and a tag: an upstream's "1.0/../../x" is no release to take.
        return "not a version builder can pin"
    if release.yanked:
        return "yanked"
    if release.prerelease and not allow_prereleases and tool.constraint.exact != release.version:
        return "prerelease"
    if not tool.constraint.allows(release.version):
        return "outside the constraint"
    exact = tool.constraint.exact is not None
    if tool.cooldown and release.published and not exact and now - release.published < tool.cooldown:
        return f"newer than the {tool.cooldown.days}d cooldown" if tool.cooldown.days else "in cooldown"
    return None
