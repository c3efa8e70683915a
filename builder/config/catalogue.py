"""The tool catalogue (tools.yaml): where each tool comes from and how it is installed and asked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from builder.config import names
from builder.config.document import Node, load_yaml, one_of, suggest
from builder.config.platforms import Platform
from builder.config.provenance import Requirement, read_requirement
from builder.config.versions import Constraint, parse_cooldown

# Every tool's own keys; a source and an install kind each add theirs.
_KEYS = (
    "description",
    "source",
    "version",
    "cooldown",
    "install",
    "check",
    "env",
    "requires",
    "release_notes",
    "provenance",
    "audit",
)
# The OSV ecosystems a released binary may name (`audit: {ecosystem, package}`): what it is
# built from, so `builder audit` can ask about it. Python apps and npm tools need none.
_AUDIT_ECOSYSTEMS = ("Bitnami", "Go", "PyPI", "npm")
# A catalogue value of an upstream key, as its source reads it: a text, a yes/no, a list of words.
UpstreamValue = str | bool | tuple[str, ...]


class SourceSpec(Protocol):
    """What the catalogue needs of a source: its keys, its version scheme, what it produces."""

    @property
    def required(self) -> tuple[str, ...]: ...

    @property
    def optional(self) -> tuple[str, ...]: ...

    @property
    def scheme(self) -> str: ...

    @property
    def produces(self) -> type:
        """The payload class its locks hold: it feeds the install kinds that install from it."""
        ...

    def read(self, key: str, node: Node) -> UpstreamValue: ...


@dataclass(frozen=True)
class Install:
    """The catalogue's install settings of one tool, as its kind read them.

    ``assets`` is the release file per platform, for kinds that download release files (empty
    for package kinds, whose files come from the lock); a kind with more settings subclasses this.
    """

    kind: str
    entry_points: dict[str, str]
    assets: dict[Platform, str] = field(default_factory=dict)


class KindSpec(Protocol):
    """What the catalogue needs of an install kind (builder.kinds.base.InstallKind is one)."""

    @property
    def keys(self) -> tuple[str, ...]: ...

    @property
    def payload(self) -> type: ...

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install: ...


@dataclass(frozen=True)
class Plugins:
    """The registries the catalogue is read against, passed in so that configuration imports no plugin."""

    sources: Mapping[str, SourceSpec]
    kinds: Mapping[str, KindSpec]


@dataclass(frozen=True)
class VersionCheck:
    """How to ask an installed tool its version: run ``command``, read group 1 of ``pattern``."""

    command: tuple[str, ...]
    pattern: str

    def read(self, output: str) -> str | None:
        match = re.search(self.pattern, output, re.MULTILINE)
        return match.group(1) if match else None


@dataclass(frozen=True)
class AuditedAs:
    """The OSV package a tool's version is known as, e.g. Go's ``github.com/aquasecurity/trivy``."""

    ecosystem: str
    package: str


@dataclass(frozen=True)
class Tool:
    name: str
    source: str
    upstream: Mapping[str, UpstreamValue]
    constraint: Constraint
    install: Install
    check: VersionCheck
    where: str
    description: str = ""
    cooldown: timedelta | None = None
    env: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    release_notes: str = ""
    provenance: Requirement | None = None  # the signature lock requires (None: none declared)
    audit: AuditedAs | None = None

    @property
    def platform_independent(self) -> bool:
        return not self.install.assets

    @property
    def entry_points(self) -> dict[str, str]:
        return self.install.entry_points

    def asset_name(self, platform: Platform, version: str) -> str:
        return names.fill(self.install.assets[platform], version)

    def text(self, key: str, default: str = "") -> str:
        """An upstream key's text (a source reads only keys it declared, so the shape is known)."""
        value = self.upstream.get(key, default)
        return value if isinstance(value, str) else default

    def flag(self, key: str) -> bool:
        return self.upstream.get(key) is True

    def words(self, key: str) -> tuple[str, ...]:
        value = self.upstream.get(key, ())
        return value if isinstance(value, tuple) else ()


def load_catalogue(root: Path, plugins: Plugins) -> dict[str, Tool]:
    doc = load_yaml(root / "tools.yaml", "tools.yaml")
    top = doc.root().mapping(["tools"], required=["tools"])
    tools = {}
    for name, node in top["tools"].entries():
        node.checked(lambda value: names.check("tool name", value), name)
        tools[name] = _tool(name, node, plugins)
    for tool in tools.values():
        for needed in tool.requires:
            if needed not in tools:
                raise (
                    top["tools"]
                    .child(tool.name, None)
                    .error(f"requires unknown tool '{needed}'{suggest(needed, tools)}")
                )
    return tools


def _tool(name: str, node: Node, plugins: Plugins) -> Tool:
    every = {k for s in plugins.sources.values() for k in s.required + s.optional}
    every |= {k for kind in plugins.kinds.values() for k in kind.keys}
    source_node = node.mapping((*_KEYS, *sorted(every)), required=["source"])["source"]
    source = source_node.text()
    if source not in plugins.sources:
        raise source_node.error(
            f"unknown source '{source}'{suggest(source, plugins.sources)} ({one_of(plugins.sources)})"
        )
    spec = plugins.sources[source]
    first = node.mapping((*_KEYS, *sorted(every)), required=("install",))
    kind = _kind(first["install"], spec, plugins)
    fields = node.mapping((*_KEYS, *spec.required, *spec.optional, *kind.keys),
                          required=("source", "install", "check", *spec.required))  # fmt: skip
    return Tool(
        name=name,
        source=source,
        upstream={k: spec.read(k, fields[k]) for k in spec.required + spec.optional if k in fields},
        constraint=_constraint(fields.get("version"), spec.scheme),
        install=kind.read_install(fields, name),
        check=_check(fields["check"]),
        where=node.where(),
        description=fields["description"].text() if "description" in fields else "",  # a comment, at most
        cooldown=_cooldown(fields.get("cooldown")),
        env=fields["env"].env_map() if "env" in fields else {},
        requires=_requires(fields.get("requires")),
        release_notes=_release_notes(fields.get("release_notes")),
        provenance=read_requirement(fields["provenance"]) if "provenance" in fields else None,
        audit=_audit(fields.get("audit")),
    )


def _kind(node: Node, spec: SourceSpec, plugins: Plugins) -> KindSpec:
    install = node.text()
    if install not in plugins.kinds:
        raise node.error(f"unknown install kind '{install}' ({one_of(plugins.kinds)})")
    kind = plugins.kinds[install]
    if kind.payload is not spec.produces:
        fits = [name for name, k in plugins.kinds.items() if k.payload is spec.produces]
        raise node.error(f"install kind '{install}' does not fit this source ({one_of(fits)})")
    return kind


def _constraint(node: Node | None, scheme: str) -> Constraint:
    if node is None:
        return Constraint("*", scheme)
    try:
        return Constraint.parse(node.text(), scheme)
    except ValueError as e:
        raise node.error(str(e)) from None


def _cooldown(node: Node | None) -> timedelta | None:
    if node is None:
        return None
    try:
        return parse_cooldown(node.text())
    except ValueError as e:
        raise node.error(str(e)) from None


def _check(node: Node) -> VersionCheck:
    fields = node.mapping(["command", "pattern"], required=["command", "pattern"])
    command = fields["command"].texts()
    if not command:
        raise fields["command"].error("expected a command, found an empty list")
    pattern = fields["pattern"].text()
    try:
        groups = re.compile(pattern).groups
    except re.error as e:
        raise fields["pattern"].error(f"bad regular expression: {e}") from None
    if groups < 1:
        raise fields["pattern"].error("the pattern needs one group that captures the version")
    return VersionCheck(command, pattern)


def _requires(node: Node | None) -> tuple[str, ...]:
    return tuple(item.name("tool name") for item in node.items()) if node is not None else ()


def _release_notes(node: Node | None) -> str:
    if node is None:
        return ""
    template = node.text()
    node.checked(names.check_url, names.fill(template, "0"))
    if "{" in template.replace("{version}", ""):
        raise node.error("'{version}' is the only placeholder a release-notes URL may hold")
    return template


def _audit(node: Node | None) -> AuditedAs | None:
    if node is None:
        return None
    fields = node.mapping(["ecosystem", "package"], required=["ecosystem", "package"])
    ecosystem = fields["ecosystem"].text()
    if ecosystem not in _AUDIT_ECOSYSTEMS:
        hint = suggest(ecosystem, _AUDIT_ECOSYSTEMS)
        raise fields["ecosystem"].error(
            f"unknown OSV ecosystem '{ecosystem}'{hint} ({one_of(_AUDIT_ECOSYSTEMS)})"
        )
    package = fields["package"].text()
    if not re.fullmatch(r"[A-Za-z0-9@][A-Za-z0-9._/@~-]{0,199}", package):
        raise fields["package"].error(f"'{package}' is not a package name (such as github.com/owner/name)")
    return AuditedAs(ecosystem, package)
