"""The lockfile (builder.lock): every tool version, and a digest for every byte an image takes in.

Stable ordering, no timestamps, one block per tool and one digest per line, so that a bump
reads as a small diff. Python apps are pinned by name, version and file hash, npm packages by
their registry integrity string: never by download URL, so any mirror can serve them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from builder.config import names
from builder.config.catalogue import Tool
from builder.config.document import Node, parse_yaml, read_text
from builder.config.platforms import Platform
from builder.errors import ConfigError, LockfileError
from builder.plumbing.fsutil import atomic_write

SCHEMA = 1
NAME = "builder.lock"
HEADER = """\
# builder.lock: the exact version of every tool and the sha256 of every artifact that enters an image.
# Generated: do not edit by hand. Regenerate with `builder lock` (newer versions: `builder lock --upgrade`).
"""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INTEGRITY = re.compile(r"^sha512-[A-Za-z0-9+/]{86}==$")
_NPM_KEEP = ("version", "integrity", "dependencies", "optionalDependencies", "peerDependencies",
             "bin", "optional", "os", "cpu")  # fmt: skip


@dataclass(frozen=True)
class Artifact:
    """A file downloaded from the upstream: a release archive or binary."""

    file: str
    url: str
    sha256: str
    size: int | None = None


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

    def requirement_line(self) -> str:
        hashes = " ".join(f"--hash=sha256:{f.sha256}" for f in self.files)
        return f"{self.name}=={self.version} {hashes}"


@dataclass(frozen=True)
class NpmPackage:
    """One entry of an npm tool's installed tree, as package-lock.json records it."""

    path: str
    version: str
    integrity: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LockedTool:
    name: str
    version: str
    origin: str
    artifacts: dict[Platform, Artifact] = field(default_factory=dict)
    requirements: dict[Platform, tuple[Requirement, ...]] = field(default_factory=dict)
    npm: tuple[NpmPackage, ...] = ()
    where: str = field(default="", compare=False)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "origin": self.origin}
        if self.artifacts:
            data["artifacts"] = {str(p): _artifact_data(a) for p, a in sorted(self.artifacts.items())}
        if self.requirements:
            data["requirements"] = {
                str(p): [_requirement_data(r) for r in reqs] for p, reqs in sorted(self.requirements.items())
            }
        if self.npm:
            data["npm"] = {p.path: {"version": p.version, "integrity": p.integrity, **p.extra}
                           for p in self.npm}  # fmt: skip
        return data

    def digest(self) -> str:
        canonical = json.dumps({self.name: self.to_data()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Lockfile:
    tools: dict[str, LockedTool] = field(default_factory=dict)

    def get(self, name: str, where: str) -> LockedTool:
        if name not in self.tools:
            raise LockfileError(where, f"tool '{name}' is missing from {NAME}: run `builder lock {name}`")
        return self.tools[name]

    def with_tool(self, tool: LockedTool) -> Lockfile:
        return Lockfile({**self.tools, tool.name: tool})

    def dumps(self) -> str:
        data = {"schema": SCHEMA, "tools": {n: self.tools[n].to_data() for n in sorted(self.tools)}}
        body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=4096, default_flow_style=False)
        # A blank line between tool blocks keeps each bump's diff visibly its own.
        body = re.sub(r"\n(  [^ \n][^\n]*:\n)", r"\n\n\1", body)
        return HEADER + body


class _Dumper(yaml.SafeDumper):
    """Never an anchor or alias, even for a value that appears twice: the loader refuses them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def checked_entry(locked: LockedTool) -> LockedTool:
    """A freshly locked entry read back through the lockfile's own checks (names, digests, sizes).

    An upstream's answer is as hostile as a reviewed file: an entry that could not be loaded
    from builder.lock must not be written into it. LockfileError, naming the tool's key, if not.
    """
    text = yaml.dump({locked.name: locked.to_data()}, Dumper=_Dumper, sort_keys=False, width=4096)
    node = parse_yaml(text, f"{NAME} (new entry)").root()
    for name, child in node.entries():
        return _tool(name, child)
    raise LockfileError(NAME, f"{locked.name}: empty entry")


@dataclass(frozen=True)
class Moved:
    """One file of a released version whose digest the upstream changed after it was locked."""

    what: str  # "linux/amd64 trivy_0.74.0_Linux-64bit.tar.gz", "requests 2.32.3 requests-...whl"
    locked: str
    now: str

    def __str__(self) -> str:
        return f"{self.what} was {self.locked}, is now {self.now}"


def moved_digests(old: LockedTool, new: LockedTool) -> list[Moved]:
    """Files both entries lock under the same name and version, whose digests differ.

    A released version's bytes never change; when the upstream's do, the lock must not follow
    them without a person saying so (a re-published tag is how a release is replaced).
    """
    if old.version != new.version:
        return []
    before, after = _digests(old), _digests(new)
    return [Moved(what, before[what], after[what]) for what in sorted(before.keys() & after.keys())
            if before[what] != after[what]]  # fmt: skip


def _digests(tool: LockedTool) -> dict[str, str]:
    found = {f"{p} {a.file}": f"sha256 {a.sha256}" for p, a in tool.artifacts.items()}
    for reqs in tool.requirements.values():
        found.update({f"{r.name} {r.version} {f.file}": f"sha256 {f.sha256}" for r in reqs for f in r.files})
    found.update({f"{p.path} {p.version}": p.integrity for p in tool.npm})
    return found


def _artifact_data(a: Artifact) -> dict[str, Any]:
    return {"file": a.file, "url": a.url, "size": a.size, "sha256": a.sha256}


def _requirement_data(r: Requirement) -> dict[str, Any]:
    files = [{"file": f.file, "size": f.size, "sha256": f.sha256} for f in r.files]
    return {"name": r.name, "version": r.version, "files": files}


def digest_of(tools: Iterable[LockedTool], *extra: str) -> str:
    """One digest for a set of locked tools (plus any extra text): it names an image's content."""
    h = hashlib.sha256()
    for tool in sorted(tools, key=lambda t: t.name):
        h.update(f"{tool.name}={tool.digest()}\n".encode())
    for text in extra:
        h.update(f"{text}\n".encode())
    return h.hexdigest()


def check_entry(locked: LockedTool, tool: Tool, platforms: Iterable[Platform]) -> None:
    """Fail when a lock entry cannot serve the catalogue's tool on these platforms."""
    problem = _entry_problem(locked, tool, platforms)
    if problem:
        raise LockfileError(locked.where or NAME, f"{tool.name}: {problem}: run `builder lock {tool.name}`")


def _entry_problem(locked: LockedTool, tool: Tool, platforms: Iterable[Platform]) -> str | None:
    if tool.install == "npm-package":
        return None if locked.npm else "no npm packages locked"
    for platform in platforms:
        if tool.install == "python-app":
            if platform not in locked.requirements:
                return f"no requirements for {platform}"
            continue
        if platform not in locked.artifacts:
            return f"no artifact for {platform}"
        expected, found = tool.asset_name(platform, locked.version), locked.artifacts[platform].file
        if found != expected:
            return f"locked file '{found}' is not the catalogue's '{expected}' for {platform}"
    return None


def load_lockfile(root: Path) -> Lockfile:
    path = root / NAME
    if not path.exists():
        return Lockfile()
    try:
        text = read_text(path, NAME)
    except ConfigError as e:
        raise LockfileError(e.where, e.message) from None
    return loads(text)


def loads(text: str) -> Lockfile:
    try:
        root = parse_yaml(text, NAME).root()
    except ConfigError as e:
        raise LockfileError(e.where, e.message) from None
    fields = root.mapping(["schema", "tools"], required=["schema", "tools"])
    schema = fields["schema"].value
    if schema != SCHEMA:
        raise _error(fields["schema"], f"unknown schema version {schema!r} (expected {SCHEMA}); "
                     "regenerate with `builder lock`")  # fmt: skip
    tools = {}
    for name, node in fields["tools"].entries() if fields["tools"].value else ():
        tools[_name(node, name)] = _tool(name, node)
    return Lockfile(tools)


def write_lockfile(root: Path, lock: Lockfile) -> None:
    atomic_write(root / NAME, lock.dumps().encode())


def _error(node: Node, message: str) -> LockfileError:
    error = node.error(message)
    return LockfileError(error.where, error.message)


def _tool(name: str, node: Node) -> LockedTool:
    try:
        fields = node.mapping(["version", "origin", "artifacts", "requirements", "npm"],
                              required=["version", "origin"])  # fmt: skip
        return LockedTool(
            name=name,
            version=fields["version"].name("version"),
            origin=fields["origin"].text(),
            artifacts=_per_platform(fields.get("artifacts"), _artifact),
            requirements=_per_platform(fields.get("requirements"), _requirements),
            npm=tuple(_npm(path, n) for path, n in fields["npm"].entries()) if "npm" in fields else (),
            where=node.where(),
        )
    except LockfileError:
        raise
    except ConfigError as e:
        raise LockfileError(e.where, e.message) from None


def _per_platform(node: Node | None, read: Any) -> dict[Platform, Any]:
    if node is None:
        return {}
    out = {}
    for key, child in node.entries():
        try:
            platform = Platform.parse(key)
        except ValueError as e:
            raise _error(child, str(e)) from None
        out[platform] = read(child)
    return out


def _sha256(node: Node) -> str:
    value = node.text()
    if not _SHA256.match(value):
        raise _error(node, f"malformed sha256 '{value}' (expected 64 lowercase hex digits)")
    return value


def _size(fields: dict[str, Node]) -> int | None:
    node = fields.get("size")
    if node is None or node.value is None:
        return None
    size = node.integer()
    if size < 0:
        raise _error(node, f"negative size {size} (expected a byte count, 0 or more)")
    return size


def _name(node: Node, value: str, kind: str = "tool name") -> str:
    try:
        return names.check(kind, value)
    except ValueError as e:
        raise _error(node, str(e)) from None


def _artifact(node: Node) -> Artifact:
    fields = node.mapping(["file", "url", "size", "sha256"], required=["file", "url", "sha256"])
    url = fields["url"].checked(names.check_url, fields["url"].text())
    return Artifact(fields["file"].name("file name"), url, _sha256(fields["sha256"]), _size(fields))


def _requirements(node: Node) -> tuple[Requirement, ...]:
    out = []
    for item in node.items():
        fields = item.mapping(["name", "version", "files"], required=["name", "version", "files"])
        files = tuple(_package_file(f) for f in fields["files"].items())
        if not files:
            raise _error(fields["files"], "expected at least one file with its sha256")
        name, version = fields["name"].name("Python package name"), fields["version"].name("version")
        out.append(Requirement(name, version, files))
    return tuple(out)


def _package_file(node: Node) -> PackageFile:
    fields = node.mapping(["file", "size", "sha256"], required=["file", "sha256"])
    return PackageFile(fields["file"].name("file name"), _sha256(fields["sha256"]), _size(fields))


def _npm(path: str, node: Node) -> NpmPackage:
    node.checked(names.check_npm_path, path)
    fields = node.mapping(_NPM_KEEP, required=["version", "integrity"])
    integrity = fields["integrity"].text()
    if not _INTEGRITY.match(integrity):
        raise _error(fields["integrity"], f"malformed integrity '{integrity}' (expected sha512-<base64>)")
    if "bin" in fields:
        _npm_bin(fields["bin"])
    extra = {k: v.value for k, v in fields.items() if k not in ("version", "integrity")}
    return NpmPackage(path, fields["version"].name("version"), integrity, extra)


def _npm_bin(node: Node) -> None:
    """npm links each ``bin`` entry into node_modules/.bin: names and targets must stay inside."""
    for command, child in node.entries():
        child.checked(lambda value: names.check("command name", value), command)
        target = child.text().removeprefix("./")
        child.checked(lambda value: names.check_relative_path(value, "bin target"), target)
