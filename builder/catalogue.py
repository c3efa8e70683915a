"""The tool catalogue (tools.yaml): where each tool comes from and how it is installed and asked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from builder.document import Node, load_yaml, one_of, suggest
from builder.platforms import Platform
from builder.sources import SOURCES
from builder.versions import Constraint, parse_cooldown

INSTALLS = ("archive", "binary", "npm-package", "python-app")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_COMMAND = re.compile(r"^[A-Za-z0-9._+-]+$")
_KEYS = (
    "description", "source", "version", "cooldown", "install", "assets", "entry_points",
    "strip_components", "check", "env", "requires", "release_notes",
)  # fmt: skip


@dataclass(frozen=True)
class VersionCheck:
    """How to ask an installed tool its version: run ``command``, read group 1 of ``pattern``."""

    command: tuple[str, ...]
    pattern: str

    def read(self, output: str) -> str | None:
        match = re.search(self.pattern, output, re.MULTILINE)
        return match.group(1) if match else None


@dataclass(frozen=True)
class Tool:
    name: str
    source: str
    upstream: dict[str, str]
    constraint: Constraint
    install: str
    check: VersionCheck
    where: str
    description: str = ""
    cooldown: timedelta | None = None
    assets: dict[Platform, str] = field(default_factory=dict)
    entry_points: dict[str, str] = field(default_factory=dict)
    strip_components: int = 0
    env: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    release_notes: str = ""

    @property
    def platform_independent(self) -> bool:
        return self.install in ("python-app", "npm-package")

    def asset_name(self, platform: Platform, version: str) -> str:
        return self.assets[platform].format(version=version)


def load_catalogue(root: Path) -> dict[str, Tool]:
    doc = load_yaml(root / "tools.yaml", "tools.yaml")
    top = doc.root().mapping(["tools"], required=["tools"])
    tools = {}
    for name, node in top["tools"].entries():
        if not _NAME.match(name):
            raise node.error(f"bad tool name '{name}' (lowercase letters, digits, '.', '_', '-')")
        tools[name] = _tool(name, node)
    for tool in tools.values():
        for needed in tool.requires:
            if needed not in tools:
                raise (
                    top["tools"]
                    .child(tool.name, None)
                    .error(f"requires unknown tool '{needed}'{suggest(needed, tools)}")
                )
    return tools


def _tool(name: str, node: Node) -> Tool:
    source_node = node.mapping(_KEYS + _all_source_keys(), required=["source"])["source"]
    source = source_node.text()
    if source not in SOURCES:
        raise source_node.error(f"unknown source '{source}'{suggest(source, SOURCES)} ({one_of(SOURCES)})")
    kind = SOURCES[source]
    fields = node.mapping(
        _KEYS + kind.required + kind.optional,
        required=("source", "install", "check", *kind.required),
    )
    install = _install(fields["install"], kind.installs)
    return Tool(
        name=name,
        source=source,
        upstream={k: _upstream_value(k, fields[k]) for k in kind.required + kind.optional if k in fields},
        constraint=_constraint(fields.get("version"), kind.scheme),
        install=install,
        check=_check(fields["check"]),
        where=node.where(),
        description=fields["description"].text() if "description" in fields else "",
        cooldown=_cooldown(fields.get("cooldown")),
        assets=_assets(fields, install),
        entry_points=_entry_points(fields.get("entry_points"), name),
        strip_components=fields["strip_components"].integer() if "strip_components" in fields else 0,
        env=fields["env"].text_map() if "env" in fields else {},
        requires=fields["requires"].texts() if "requires" in fields else (),
        release_notes=fields["release_notes"].text() if "release_notes" in fields else "",
    )


def _all_source_keys() -> tuple[str, ...]:
    return tuple(sorted({k for s in SOURCES.values() for k in s.required + s.optional}))


def _install(node: Node, allowed: tuple[str, ...]) -> str:
    install = node.text()
    if install not in INSTALLS:
        raise node.error(f"unknown install kind '{install}' ({one_of(INSTALLS)})")
    if install not in allowed:
        raise node.error(f"install kind '{install}' does not fit this source ({one_of(allowed)})")
    return install


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


def _assets(fields: dict[str, Node], install: str) -> dict[Platform, str]:
    node = fields.get("assets")
    if install in ("python-app", "npm-package"):
        if node is not None:
            raise node.error(f"'{install}' tools take no assets: their files come from the lock")
        return {}
    if node is None:
        raise fields["install"].error(f"an '{install}' tool needs 'assets' (platform: file name)")
    if "strip_components" in fields and install != "archive":
        raise fields["strip_components"].error("only 'archive' tools are unpacked")
    assets = {}
    for key, child in node.entries():
        try:
            platform = Platform.parse(key)
        except ValueError as e:
            raise child.error(str(e)) from None
        assets[platform] = child.text()
    return assets


def _entry_points(node: Node | None, name: str) -> dict[str, str]:
    """Commands linked into PATH: a list of names, or a mapping of name to path in the payload."""
    if node is None:
        return {name: name}
    points = {item: item for item in node.texts()} if isinstance(node.value, list) else node.text_map()
    for command, path in points.items():
        if not _COMMAND.match(command):
            raise node.error(f"bad command name '{command}'")
        if path.startswith("/") or ".." in Path(path).parts:
            raise node.error(f"'{path}' must be a relative path inside the tool's payload")
    if not points:
        raise node.error("expected at least one entry point")
    return points


_FLAGS = ("prereleases",)  # upstream keys that are yes/no


def _upstream_value(key: str, node: Node) -> str:
    return str(node.boolean()).lower() if key in _FLAGS else node.text()
