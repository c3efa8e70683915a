"""What an install kind is: everything that differs between a release archive, a single binary,
a Python app and an npm package, behind one small interface.

A kind reads its own catalogue keys, reads and writes its own lock payload, renders its own side
files and template values, and says what a smoke test checks beyond the version. Everything else
(sources, rendering, building, updating) asks the kind and never switches on its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from builder.config import names
from builder.config.catalogue import Install, Tool
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.locking.evidence import Evidence, read_sha256

T = TypeVar("T")
# Runs a command in the smoke-test container: its exit code and output.
Run = Callable[[tuple[str, ...]], tuple[int, str]]


class Payload(Protocol):
    """What a kind locks for one tool: every file an image takes in, each with its digest."""

    def to_data(self) -> dict[str, object]:
        """Its keys of the tool's entry in builder.lock."""
        ...

    def digests(self) -> dict[str, str]:
        """Each pinned file ("linux/amd64 x.tar.gz", "requests 2.32.3 x.whl") and its digest."""
        ...

    def evidence(self) -> tuple[tuple[str, Evidence], ...]:
        """How each digest was established: (what it covers, the record)."""
        ...

    def summary(self) -> str:
        """The digests in one short cell of a pull request's table."""
        ...


@dataclass(frozen=True)
class Finding:
    """One smoke-test check a kind asks for, already judged."""

    name: str
    expected: str
    actual: str
    ok: bool
    output: str = ""


class InstallKind(Protocol):
    """One way of installing a tool; the registry in builder.kinds maps catalogue names to these."""

    @property
    def name(self) -> str: ...

    @property
    def keys(self) -> tuple[str, ...]:
        """The catalogue keys this kind reads, besides every tool's own."""
        ...

    @property
    def lock_key(self) -> str:
        """The key of its payload in a tool's lock entry ("artifacts", "requirements", "npm")."""
        ...

    @property
    def payload(self) -> type:
        """The payload class it installs from: a source that produces it can feed this kind."""
        ...

    @property
    def per_platform(self) -> bool:
        """Whether its files differ per platform (then the catalogue names one asset per platform)."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """The build secrets its partial mounts ("pip-index-url", "npmrc"): checked before a build."""
        ...

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install: ...

    def read_payload(self, fields: Mapping[str, Node], legacy: tuple[Evidence, ...]) -> Payload:
        """Its keys of a tool's lock entry; ``legacy`` is the evidence of a schema 1 entry, which had none."""
        ...

    def problem(
        self, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> str | None:
        """Why this lock payload cannot serve the tool on these platforms, or None."""
        ...

    def side_files(
        self, folder: str, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, bytes]:
        """Files rendered beside the Dockerfile (``folder`` is the image's output folder)."""
        ...

    def template_values(
        self, tool: Tool, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, object]:
        """What its partial (templates/partials/<name>.j2) reads besides every tool's own values."""
        ...

    def smoke(self, run: Run, tool: Tool, payload: Payload, platform: Platform) -> list[Finding]:
        """Checks beyond the version, in a running container of the built image."""
        ...


def entry_points(node: Node | None, name: str) -> dict[str, str]:
    """Commands linked into PATH: a list of names, or a mapping of name to path in the payload."""
    if node is None:
        return {name: name}
    if isinstance(node.value, list):
        points = {item.name("command name"): item.checked(names.check_relative_path, item.text())
                  for item in node.items()}  # fmt: skip
    else:
        points = {}
        for command, child in node.entries():
            child.checked(lambda value: names.check("command name", value), command)
            points[command] = child.checked(names.check_relative_path, child.text())
    if not points:
        raise node.error("expected at least one entry point")
    return points


def no_assets(fields: Mapping[str, Node], kind: str) -> None:
    """Package kinds take their files from the lock: a catalogue that names assets is mistaken."""
    if "assets" in fields:
        raise fields["assets"].error(f"'{kind}' tools take no assets: their files come from the lock")


def wrong_payload(kind: str, payload: Payload) -> str:
    return f"locked as {type(payload).__name__.lower()}, not as the '{kind}' tool the catalogue describes"


def read_size(fields: Mapping[str, Node]) -> int | None:
    node = fields.get("size")
    if node is None or node.value is None:
        return None
    size = node.integer()
    if size < 0:
        raise node.error(f"negative size {size} (expected a byte count, 0 or more)")
    return size


def per_platform(node: Node, read: Callable[[Node], T]) -> dict[Platform, T]:
    out = {}
    for key, child in node.entries():
        try:
            platform = Platform.parse(key)
        except ValueError as e:
            raise child.error(str(e)) from None
        out[platform] = read(child)
    return out


__all__ = ["read_sha256"]  # kinds read their digests as evidence records do
