"""Release files, one per platform: what the archive and binary kinds install from.

The catalogue names each platform's file (``assets``, a ``{version}`` template); the lock pins
its URL, size, sha256 and the evidence for that digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.config import names
from builder.config.catalogue import Install
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.kinds.base import (
    Finding,
    Payload,
    Run,
    per_platform,
    read_sha256,
    read_size,
    wrong_payload,
)
from builder.locking.evidence import Evidence, evidence_data, read_evidence

if TYPE_CHECKING:
    from builder.config.catalogue import Tool


@dataclass(frozen=True)
class Artifact:
    """A file downloaded from the upstream: a release archive or binary."""

    file: str
    url: str
    sha256: str
    size: int | None = None
    evidence: tuple[Evidence, ...] = field(kw_only=True)

    def to_data(self) -> dict[str, object]:
        data: dict[str, object] = {
            "file": self.file,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
        }
        return {**data, "evidence": evidence_data(self.evidence)}


@dataclass(frozen=True)
class Artifacts:
    files: dict[Platform, Artifact] = field(default_factory=dict)

    def to_data(self) -> dict[str, object]:
        return {"artifacts": {str(p): a.to_data() for p, a in sorted(self.files.items())}}

    def digests(self) -> dict[str, str]:
        return {f"{p} {a.file}": f"sha256 {a.sha256}" for p, a in self.files.items()}

    def evidence(self) -> tuple[tuple[str, Evidence], ...]:
        return tuple((f"{p} {a.file}", r) for p, a in sorted(self.files.items()) for r in a.evidence)

    def summary(self) -> str:
        return "<br>".join(f"{p}: `{a.sha256}`" for p, a in sorted(self.files.items()))


class ReleaseFileKind:
    """What archive and binary share: assets per platform in the catalogue, artifacts in the lock."""

    name = ""
    keys: tuple[str, ...] = ("assets", "entry_points")
    lock_key = "artifacts"
    payload: type = Artifacts
    per_platform = True
    secrets: tuple[str, ...] = ()

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install:
        from builder.kinds.base import entry_points

        return Install(
            self.name, entry_points(fields.get("entry_points"), tool), read_assets(fields, self.name)
        )

    def read_payload(self, fields: Mapping[str, Node], legacy: tuple[Evidence, ...]) -> Payload:
        if "evidence" in fields:
            raise fields["evidence"].error("release files carry their evidence each, under its platform")
        return Artifacts(per_platform(fields["artifacts"], lambda node: _artifact(node, legacy)))

    def problem(
        self, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> str | None:
        if not isinstance(payload, Artifacts):
            return wrong_payload(self.name, payload)
        for platform in platforms:
            if platform not in payload.files:
                return f"no artifact for {platform}"
            expected, found = tool.asset_name(platform, version), payload.files[platform].file
            if found != expected:
                return f"locked file '{found}' is not the catalogue's '{expected}' for {platform}"
        return None

    def side_files(
        self, folder: str, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, bytes]:
        return {}

    def template_values(
        self, tool: Tool, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, object]:
        assert isinstance(payload, Artifacts)  # problem() ran when the lock entry was taken
        return {"artifacts": [(p.arch, payload.files[p]) for p in platforms if p in payload.files]}

    def smoke(self, run: Run, tool: Tool, payload: Payload, platform: Platform) -> list[Finding]:
        return []


def read_assets(fields: Mapping[str, Node], kind: str) -> dict[Platform, str]:
    node = fields.get("assets")
    if node is None:
        raise fields["install"].error(f"an '{kind}' tool needs 'assets' (platform: file name)")
    return per_platform(node, lambda child: child.checked(names.check_template, child.text()))


def _artifact(node: Node, legacy: tuple[Evidence, ...]) -> Artifact:
    keys = ["file", "url", "size", "sha256", "evidence"]
    fields = node.mapping(keys, required=["file", "url", "sha256"] + ([] if legacy else ["evidence"]))
    url = fields["url"].checked(names.check_url, fields["url"].text())
    evidence = read_evidence(fields["evidence"]) if "evidence" in fields else legacy
    file, sha256 = fields["file"].name("file name"), read_sha256(fields["sha256"])
    return Artifact(file, url, sha256, read_size(fields), evidence=evidence)
