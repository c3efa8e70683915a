"""The lockfile (builder.lock): every tool version, and a digest for every byte an image takes in.

Stable ordering, no timestamps, one block per tool and one digest per line, so that a bump
reads as a small diff. Each tool's payload belongs to its install kind (builder.kinds), and each
digest carries typed evidence records (builder.locking.evidence) saying how it was established.
Python apps are pinned by name, version and file hash, npm packages by their registry integrity
string: never by download URL, so any mirror can serve them.
"""

from __future__ import annotations

import hashlib
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
from builder.kinds import KINDS
from builder.kinds.base import InstallKind, Payload
from builder.locking.evidence import Evidence, IndexHash, NpmIntegrity, OpenPGPSignature, Published, Recorded
from builder.plumbing.fsutil import atomic_write

SCHEMA = 2
NAME = "builder.lock"
_HEADER = """\
# builder.lock: the exact version of every tool and the sha256 of every artifact that enters an image.
# Generated: do not edit by hand. Regenerate with `builder lock` (newer versions: `builder lock --upgrade`).
"""


@dataclass(frozen=True)
class LockedTool:
    name: str
    version: str
    payload: Payload
    where: str = field(default="", compare=False)

    def to_data(self) -> dict[str, object]:
        return {"version": self.version, **self.payload.to_data()}

    def digest(self) -> str:
        """What the entry means, not how it is written: its version and every pinned file's digest.

        Evidence, URLs and sizes are left out: a new signature over the same bytes, a mirror or a
        schema migration must not re-tag an image whose content is the same.
        """
        lines = [
            f"{self.name}=={self.version}",
            *sorted(f"{w}={d}" for w, d in self.payload.digests().items()),
        ]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class Lockfile:
    tools: dict[str, LockedTool] = field(default_factory=dict)
    schema: int = field(default=SCHEMA, compare=False)  # of the file it was read from

    def get(self, name: str, where: str) -> LockedTool:
        if name not in self.tools:
            raise LockfileError(where, f"tool '{name}' is missing from {NAME}: run `builder lock {name}`")
        return self.tools[name]

    def with_tool(self, tool: LockedTool) -> Lockfile:
        return Lockfile({**self.tools, tool.name: tool}, self.schema)

    def dumps(self) -> str:
        data = {"schema": SCHEMA, "tools": {n: self.tools[n].to_data() for n in sorted(self.tools)}}
        body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=4096, default_flow_style=False)
        # A blank line between tool blocks keeps each bump's diff visibly its own.
        body = re.sub(r"\n(  [^ \n][^\n]*:\n)", r"\n\n\1", body)
        return _HEADER + body


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
        return _tool(name, child, SCHEMA)
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
    before, after = old.payload.digests(), new.payload.digests()
    return [Moved(what, before[what], after[what]) for what in sorted(before.keys() & after.keys())
            if before[what] != after[what]]  # fmt: skip


def digest_of(tools: Iterable[LockedTool], *extra: str) -> str:
    """One digest for a set of locked tools (plus any extra text): it names an image's content."""
    h = hashlib.sha256()
    for tool in sorted(tools, key=lambda t: t.name):
        h.update(f"{tool.name}={tool.digest()}\n".encode())
    for text in extra:
        h.update(f"{text}\n".encode())
    return h.hexdigest()


def check_entry(locked: LockedTool, tool: Tool, platforms: tuple[Platform, ...]) -> None:
    """Fail when a lock entry cannot serve the catalogue's tool on these platforms."""
    problem = KINDS[tool.install.kind].problem(tool, locked.version, locked.payload, platforms)
    if problem:
        raise LockfileError(locked.where or NAME, f"{tool.name}: {problem}: run `builder lock {tool.name}`")


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
    """A schema 2 lock, or a schema 1 lock migrated to it (written as schema 2 by the next lock)."""
    try:
        root = parse_yaml(text, NAME).root()
    except ConfigError as e:
        raise LockfileError(e.where, e.message) from None
    fields = root.mapping(["schema", "tools"], required=["schema", "tools"])
    schema = fields["schema"].value
    if schema not in (1, SCHEMA) or isinstance(schema, bool):
        raise _error(fields["schema"], f"unknown schema version {schema!r} (expected {SCHEMA}); "
                     "regenerate with `builder lock`")  # fmt: skip
    tools = {}
    for name, node in fields["tools"].entries() if fields["tools"].value else ():
        tools[_name(node, name)] = _tool(name, node, int(schema))
    return Lockfile(tools, int(schema))


def write_lockfile(root: Path, lock: Lockfile) -> None:
    atomic_write(root / NAME, lock.dumps().encode())


def _error(node: Node, message: str) -> LockfileError:
    error = node.error(message)
    return LockfileError(error.where, error.message)


def _payload_keys() -> dict[str, InstallKind]:
    """Each payload's identifying key, and a kind that reads it (kinds may share a payload)."""
    found: dict[str, InstallKind] = {}
    for kind in KINDS.values():
        found.setdefault(kind.lock_key, kind)
    return found


def _tool(name: str, node: Node, schema: int) -> LockedTool:
    readers = _payload_keys()
    try:
        legacy = ["origin"] if schema == 1 else []
        fields = node.mapping(["version", *legacy, *readers, "evidence"], required=["version", *legacy])
        present = [key for key in readers if key in fields]
        if len(present) != 1:
            raise node.error(f"expected exactly one of {', '.join(readers)}, found {len(present)}")
        evidence = _migrated(fields["origin"]) if schema == 1 else ()
        return LockedTool(
            name=name,
            version=fields["version"].name("version"),
            payload=readers[present[0]].read_payload(fields, evidence),
            where=node.where(),
        )
    except LockfileError:
        raise
    except ConfigError as e:
        raise LockfileError(e.where, e.message) from None


def _name(node: Node, value: str, kind: str = "tool name") -> str:
    try:
        return names.check(kind, value)
    except ValueError as e:
        raise _error(node, str(e)) from None


_PUBLISHED = re.compile(r"^sha256 as published for (.+); not yet re-verified upstream$")
_UV = re.compile(r"^resolved by (uv(?: \S+)?) for (.+?),? from (.+)$")
_NPM = re.compile(r"^(?:resolved by npm|npm registry)\b")
_SIGNED = re.compile(r"; (\S+) signed by ((?:[0-9A-F]{4} {0,2}){10,16})$")


def _migrated(node: Node) -> tuple[Evidence, ...]:
    """Schema 1's ``origin`` text as records: typed where its words fix every field, else kept as text.

    The only place a sentence about evidence is read: schema 2 keeps records, never sentences.
    """
    text = node.text()
    if match := _PUBLISHED.match(text):
        return (Published(match.group(1)),)
    if match := _UV.match(text):
        return (
            IndexHash(match.group(1), re.sub(r",? manylinux", ", manylinux", match.group(2)), match.group(3)),
        )
    if _NPM.match(text):
        return (NpmIntegrity("npm"),)
    if match := _SIGNED.search(text):
        return (OpenPGPSignature(match.group(1), match.group(2).replace(" ", "")),)
    return (Recorded(text),)
