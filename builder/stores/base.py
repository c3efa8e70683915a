"""What every artifact store does: keep verified bytes under their sha256, hand them back verified."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from builder.config.platforms import Platform
from builder.kinds.release_files import Artifact


@dataclass(frozen=True)
class ArtifactRef:
    """One locked artifact: which tool, version and platform it serves."""

    tool: str
    version: str
    platform: Platform
    artifact: Artifact

    @property
    def sha256(self) -> str:
        return self.artifact.sha256

    def __str__(self) -> str:
        return f"{self.tool} {self.version} ({self.platform}) {self.artifact.file}"


@dataclass(frozen=True)
class RepositoryCheck:
    role: str  # generic, pypi, npm
    repository: str
    problem: str | None  # None: it answers

    @property
    def ok(self) -> bool:
        return self.problem is None


class ArtifactStore(Protocol):
    """Stores never hold unverified bytes: ``put`` is given a file whose digest was checked."""

    name: str

    def has(self, ref: ArtifactRef) -> bool: ...

    def stored_sha256(self, ref: ArtifactRef) -> str | None:
        """The digest the store holds under the artifact's name, None when it holds nothing."""
        ...

    def put(self, ref: ArtifactRef, verified: Path) -> None: ...

    def copy_to(self, ref: ArtifactRef, dest: Path) -> None:
        """Write the artifact to ``dest``, verified again on the way out; ChecksumError if not."""
        ...

    def finish(self, tool: str, version: str) -> bool:
        """Every platform of this version is in: seal it (CodeArtifact publishes the version)."""
        ...


class RepositoryStore(ArtifactStore, Protocol):
    """A store that is also the team's package mirror (CodeArtifact): builds install pip and npm
    packages through it with a short-lived token, and old tool versions can be pruned."""

    def authorization_token(self) -> str:
        """A token for pip and npm; errors carry the store's advice (expired credentials, ...)."""
        ...

    def endpoint(self, package_format: str) -> str:
        """The URL of the repository serving ``package_format`` (pypi, npm)."""
        ...

    def check_repositories(self) -> list[RepositoryCheck]: ...

    def prune(self, tool: str, keep: int, protect: tuple[str, ...] = ()) -> list[str]:
        """Dispose of all but the newest ``keep`` versions of ``tool`` (never ``protect``); those gone."""
        ...
