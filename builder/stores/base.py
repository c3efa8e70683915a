"""What every artifact store does: keep verified bytes under their sha256, hand them back verified."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from builder.lockfile import Artifact
from builder.platforms import Platform


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
