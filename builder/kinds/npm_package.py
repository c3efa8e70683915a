"""An npm package: its whole tree installed by ``npm ci`` from a rendered package-lock.json.

The lock keeps each package of the tree (path, version, sha512 integrity and what npm needs to
lay it out); npm itself checks every tarball against its integrity during the build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.config import names
from builder.config.catalogue import Install
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.kinds.base import Finding, Payload, Run, entry_points, no_assets, wrong_payload
from builder.locking.evidence import Evidence, evidence_data, read_evidence

if TYPE_CHECKING:
    from builder.config.catalogue import Tool

_INTEGRITY = re.compile(r"^sha512-[A-Za-z0-9+/]{86}==$")
# What package-lock.json keeps per package that npm ci needs: nothing that names a download URL.
_KEEP = ("version", "integrity", "dependencies", "optionalDependencies", "peerDependencies",
         "bin", "optional", "os", "cpu")  # fmt: skip


@dataclass(frozen=True)
class NpmPackage:
    """One entry of an npm tool's installed tree, as package-lock.json records it."""

    path: str
    version: str
    integrity: str
    extra: Mapping[str, object] = field(default_factory=dict)

    def to_data(self) -> dict[str, object]:
        return {"version": self.version, "integrity": self.integrity, **self.extra}


@dataclass(frozen=True)
class NpmTree:
    packages: tuple[NpmPackage, ...]
    proof: tuple[Evidence, ...] = ()

    def to_data(self) -> dict[str, object]:
        return {"npm": {p.path: p.to_data() for p in self.packages}, "evidence": evidence_data(self.proof)}

    def digests(self) -> dict[str, str]:
        return {f"{p.path} {p.version}": p.integrity for p in self.packages}

    def evidence(self) -> tuple[tuple[str, Evidence], ...]:
        return tuple(("every package", record) for record in self.proof)

    def summary(self) -> str:
        return f"{len(self.packages)} npm packages (sha512 integrity in builder.lock)"


class NpmPackageKind:
    name = "npm-package"
    keys = ("entry_points", "assets")  # assets only to say that they are not taken
    lock_key = "npm"
    payload: type = NpmTree
    per_platform = False
    secrets: tuple[str, ...] = ("npmrc",)

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install:
        no_assets(fields, self.name)
        return Install(self.name, entry_points(fields.get("entry_points"), tool))

    def read_payload(self, fields: Mapping[str, Node], legacy: tuple[Evidence, ...]) -> Payload:
        packages = tuple(_package(path, node) for path, node in fields["npm"].entries())
        if "evidence" not in fields and not legacy:
            raise fields["npm"].error("no 'evidence' beside the npm packages: run `builder lock`")
        return NpmTree(packages, read_evidence(fields["evidence"]) if "evidence" in fields else legacy)

    def problem(
        self, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> str | None:
        if not isinstance(payload, NpmTree):
            return wrong_payload(self.name, payload)
        return None if payload.packages else "no npm packages locked"

    def side_files(
        self, folder: str, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, bytes]:
        assert isinstance(payload, NpmTree)  # problem() ran when the lock entry was taken
        manifest = {"name": f"builder-{tool.name}", "version": "0.0.0", "private": True,
                    "dependencies": {tool.text("package"): version}}  # fmt: skip
        packages: dict[str, object] = {"": manifest}
        packages.update({p.path: p.to_data() for p in payload.packages})
        lock = {"name": manifest["name"], "version": "0.0.0", "lockfileVersion": 3, "requires": True,
                "packages": packages}  # fmt: skip
        base = f"{folder}/npm/{tool.name}"
        return {f"{base}/package.json": _json(manifest), f"{base}/package-lock.json": _json(lock)}

    def template_values(
        self, tool: Tool, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, object]:
        return {}

    def smoke(self, run: Run, tool: Tool, payload: Payload, platform: Platform) -> list[Finding]:
        return []


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def _package(path: str, node: Node) -> NpmPackage:
    node.checked(names.check_npm_path, path)
    fields = node.mapping(_KEEP, required=["version", "integrity"])
    integrity = fields["integrity"].text()
    if not _INTEGRITY.match(integrity):
        raise fields["integrity"].error(f"malformed integrity '{integrity}' (expected sha512-<base64>)")
    if "bin" in fields:
        _bin(fields["bin"])
    extra = {k: v.value for k, v in fields.items() if k not in ("version", "integrity")}
    return NpmPackage(path, fields["version"].name("version"), integrity, extra)


def _bin(node: Node) -> None:
    """npm links each ``bin`` entry into node_modules/.bin: names and targets must stay inside."""
    for command, child in node.entries():
        child.checked(lambda value: names.check("command name", value), command)
        target = child.text().removeprefix("./")
        child.checked(lambda value: names.check_relative_path(value, "bin target"), target)
