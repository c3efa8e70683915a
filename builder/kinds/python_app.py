"""A Python app: its own virtualenv holding exactly the locked wheels, installed by hash.

The lock pins every distribution per platform by name, version and wheel sha256 (never a URL, so
any mirror of the index serves them); the side file is a pip requirements file with those hashes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from builder.config.catalogue import Install
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.kinds.base import (
    Finding,
    Payload,
    Run,
    entry_points,
    no_assets,
    per_platform,
    read_sha256,
    read_size,
    wrong_payload,
)
from builder.locking.evidence import Evidence, evidence_data, read_evidence

if TYPE_CHECKING:
    from builder.config.catalogue import Tool

_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class PackageFile:
    """One distribution file of a Python package (a wheel)."""

    file: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str
    files: tuple[PackageFile, ...]

    def to_data(self) -> dict[str, object]:
        files = [{"file": f.file, "size": f.size, "sha256": f.sha256} for f in self.files]
        return {"name": self.name, "version": self.version, "files": files}


@dataclass(frozen=True)
class Requirements:
    """Every distribution of the app per platform, and how their hashes were established."""

    platforms: dict[Platform, tuple[Requirement, ...]]
    proof: tuple[Evidence, ...] = ()

    def to_data(self) -> dict[str, object]:
        reqs = {str(p): [r.to_data() for r in reqs] for p, reqs in sorted(self.platforms.items())}
        return {"requirements": reqs, "evidence": evidence_data(self.proof)}

    def digests(self) -> dict[str, str]:
        return {f"{r.name} {r.version} {f.file}": f"sha256 {f.sha256}"
                for reqs in self.platforms.values() for r in reqs for f in r.files}  # fmt: skip

    def evidence(self) -> tuple[tuple[str, Evidence], ...]:
        return tuple(("every distribution", record) for record in self.proof)

    def summary(self) -> str:
        count = max((len(reqs) for reqs in self.platforms.values()), default=0)
        return f"{count} pinned packages per platform (wheel hashes in builder.lock)"


class PythonApp:
    name = "python-app"
    keys = ("entry_points", "assets")  # assets only to say that they are not taken
    lock_key = "requirements"
    payload: type = Requirements
    per_platform = False
    secrets: tuple[str, ...] = ("pip-index-url", "pip-cert")

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install:
        no_assets(fields, self.name)
        return Install(self.name, entry_points(fields.get("entry_points"), tool))

    def read_payload(self, fields: Mapping[str, Node], legacy: tuple[Evidence, ...]) -> Payload:
        platforms = per_platform(fields["requirements"], _requirements)
        if "evidence" not in fields and not legacy:
            raise fields["requirements"].error("no 'evidence' beside the requirements: run `builder lock`")
        return Requirements(platforms, read_evidence(fields["evidence"]) if "evidence" in fields else legacy)

    def problem(
        self, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> str | None:
        if not isinstance(payload, Requirements):
            return wrong_payload(self.name, payload)
        missing = [p for p in platforms if p not in payload.platforms]
        return f"no requirements for {missing[0]}" if missing else None

    def side_files(
        self, folder: str, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, bytes]:
        assert isinstance(payload, Requirements)  # problem() ran when the lock entry was taken
        return {
            f"{folder}/requirements/{tool.name}-{p.arch}.txt": _requirements_file(tool, version, payload, p)
            for p in platforms
        }

    def template_values(
        self, tool: Tool, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, object]:
        return {}

    def smoke(self, run: Run, tool: Tool, payload: Payload, platform: Platform) -> list[Finding]:
        """The app's virtualenv holds exactly its locked distributions: no pip, no setuptools."""
        assert isinstance(payload, Requirements)
        return [_venv_check(run, tool, payload.platforms.get(platform))]


def _requirements(node: Node) -> tuple[Requirement, ...]:
    out = []
    for item in node.items():
        fields = item.mapping(["name", "version", "files"], required=["name", "version", "files"])
        files = tuple(_package_file(f) for f in fields["files"].items())
        if not files:
            raise fields["files"].error("expected at least one file with its sha256")
        name, version = fields["name"].name("Python package name"), fields["version"].name("version")
        out.append(Requirement(name, version, files))
    return tuple(out)


def _package_file(node: Node) -> PackageFile:
    fields = node.mapping(["file", "size", "sha256"], required=["file", "sha256"])
    return PackageFile(fields["file"].name("file name"), read_sha256(fields["sha256"]), read_size(fields))


def _requirements_file(tool: Tool, version: str, payload: Requirements, platform: Platform) -> bytes:
    about = f"{tool.name} {version}, {platform}"
    lines = [f"# Generated by `builder render` from builder.lock ({about}): do not edit."]
    for req in payload.platforms[platform]:
        hashes = "".join(f" \\\n    --hash=sha256:{f.sha256}" for f in req.files)
        lines.append(f"{req.name}=={req.version}{hashes}")
    return ("\n".join(lines) + "\n").encode()


# What a Python app's virtualenv holds, as its own interpreter sees it (-I: no PYTHON* variable,
# no user site, no current folder): every distribution it could import code from.
_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([str(d.metadata['Name']), d.version] for d in m.distributions())))"
)


def _venv_check(run: Run, tool: Tool, locked: tuple[Requirement, ...] | None) -> Finding:
    name = f"{tool.name} venv"
    if locked is None:
        return Finding(name, "its locked distributions", "none locked for this platform", False)
    wanted = {_key(r.name): r.version for r in locked}
    code, output = run((f"/opt/tools/{tool.name}/bin/python", "-I", "-c", _DISTRIBUTIONS))
    try:
        found = {_key(n): str(v) for n, v in json.loads(output.splitlines()[-1])}
    except (ValueError, IndexError, TypeError):
        found, code = {}, code or 1
    actual = f"(exit {code})" if code else _difference(wanted, found) or "exactly those"
    return Finding(name, f"the {len(wanted)} locked distributions", actual, actual == "exactly those", output)


def _key(name: str) -> str:
    # PEP 503's normal form, written here: packaging.utils would load packaging.tags every run
    return _SEPARATORS.sub("-", name).lower()


def _difference(wanted: dict[str, str], found: dict[str, str]) -> str:
    extra = [f"{n} {v}" for n, v in sorted(found.items()) if n not in wanted]
    missing = [f"{n} {v}" for n, v in sorted(wanted.items()) if n not in found]
    other = [f"{n} {found[n]} (locked {v})" for n, v in sorted(wanted.items())
             if n in found and not _same_version(found[n], v)]  # fmt: skip
    parts = [("unlocked", extra), ("missing", missing), ("other version", other)]
    return "; ".join(f"{label}: {', '.join(items)}" for label, items in parts if items)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
