"""Evidence for lock entries a test writes itself: the lockfile refuses a digest without any.

``Keyless`` stands in for a keyless signature record (identity and issuer, as a Sigstore
certificate names them) where a test is about what builder does with signers, not about
verifying one; ``attesting`` makes the real GitHub source add one to every artifact it locks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest

from builder.config.catalogue import Tool
from builder.config.platforms import Platform
from builder.kinds.release_files import Artifacts
from builder.locking import evidence
from builder.locking.evidence import Published, Signer
from builder.locking.lockfile import LockedTool
from builder.sources import SOURCES
from builder.sources.base import Release, Source, SourceDeps

TESTED = (Published("the test's own fake upstream"),)
ISSUER = "https://token.actions.example.test"


@dataclass(frozen=True)
class Keyless:
    kind: ClassVar[str] = "test-keyless"
    identity: str
    issuer: str = ISSUER

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "identity": self.identity, "issuer": self.issuer}

    def signer(self) -> Signer | None:
        return Signer("sigstore", self.identity, self.issuer)

    def summary(self) -> str:
        return f"signed by {self.identity} (the test's keyless record)"


class Attesting:
    """A source whose locks also carry a Keyless record: ``signed`` maps a version to its record
    (a version it does not name is locked unsigned, as the source alone locks it)."""

    def __init__(self, inner: Source, signed: Mapping[str, Keyless]) -> None:
        self.inner, self.signed = inner, signed

    def releases(self, tool: Tool) -> list[Release]:
        return self.inner.releases(tool)

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        locked = self.inner.lock(tool, release, platforms)
        record = self.signed.get(release.version)
        if record is None or not isinstance(locked.payload, Artifacts):
            return locked
        files = {
            p: dataclasses.replace(a, evidence=(*a.evidence, record)) for p, a in locked.payload.files.items()
        }
        return dataclasses.replace(locked, payload=Artifacts(files))


def attesting(monkeypatch: pytest.MonkeyPatch, signed: Mapping[str, Keyless]) -> None:
    """The GitHub source signs what it locks as ``signed`` says, and builder.lock reads the records back
    (the lockfile knows only the kinds evidence.py registers: the test's joins them, as a new kind would)."""
    read = lambda fields: Keyless(fields["identity"].text(), fields["issuer"].text())  # noqa: E731
    monkeypatch.setitem(evidence._KINDS, Keyless.kind, (("identity", "issuer"), read))
    github = SOURCES["github"]

    def make(deps: SourceDeps) -> Source:
        return Attesting(github.make(deps), signed)

    monkeypatch.setitem(SOURCES, "github", dataclasses.replace(github, make=make))
