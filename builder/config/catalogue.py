"""The tool catalogue (tools.yaml): where each tool comes from and how it is installed and asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from builder.config import names
from builder.config.document import Node, load_yaml, one_of, suggest
from builder.config.platforms import Platform
from builder.config.versions import Constraint, parse_cooldown
from builder.sources import SOURCES

INSTALLS = ("archive", "binary", "npm-package", "python-app")
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
        return names.fill(self.assets[platform], version)


def load_catalogue(root: Path) -> dict[str, Tool]:
    doc = load_yaml(root / "tools.yaml", "tools.yaml")
    top = doc.root().mapping(["tools"], required=["tools"])
    tools = {}
    for name, node in top["tools"].entries():
        node.checked(lambda value: names.check("tool name", value), name)
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
        upstream={k: _upstream_value(source, k, fields[k]) for k in kind.keys if k in fields},
        constraint=_constraint(fields.get("version"), kind.scheme),
        install=install,
        check=_check(fields["check"]),
        where=node.where(),
        description=fields["description"].text() if "description" in fields else "",  # a comment, at most
        cooldown=_cooldown(fields.get("cooldown")),
        assets=_assets(fields, install),
        entry_points=_entry_points(fields.get("entry_points"), name),
        strip_components=_strip_components(fields.get("strip_components")),
        env=fields["env"].env_map() if "env" in fields else {},
        requires=_requires(fields.get("requires")),
        release_notes=_release_notes(fields.get("release_notes")),
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
        assets[platform] = child.checked(names.check_template, child.text())
    return assets


def _entry_points(node: Node | None, name: str) -> dict[str, str]:
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


def _requires(node: Node | None) -> tuple[str, ...]:
    return tuple(item.name("tool name") for item in node.items()) if node is not None else ()


def _strip_components(node: Node | None) -> int:
    value = node.integer() if node is not None else 0
    if node is not None and not 0 <= value <= 16:
        raise node.error(f"expected 0 to 16 leading folders to strip, found {value}")
    return value


def _release_notes(node: Node | None) -> str:
    if node is None:
        return ""
    template = node.text()
    node.checked(names.check_url, names.fill(template, "0"))
    if "{" in template.replace("{version}", ""):
        raise node.error("'{version}' is the only placeholder a release-notes URL may hold")
    return template


_FLAGS = ("prereleases",)  # upstream keys that are yes/no
_UPSTREAM_SHAPES: dict[tuple[str, str], Callable[[str], str]] = {
    ("github", "repository"): lambda value: names.check("repository", value),
    ("github", "tag"): names.check_template,
    ("github", "checksums"): names.check_template,
    ("hashicorp", "product"): lambda value: names.check("product", value),
    ("npm", "package"): lambda value: names.check("npm package name", value),
    ("pypi", "package"): lambda value: names.check("Python package name", value),
    ("pypi", "extras"): lambda value: _extras(value),
}


def _upstream_value(source: str, key: str, node: Node) -> str:
    if key in _FLAGS:
        return str(node.boolean()).lower()
    shape = _UPSTREAM_SHAPES.get((source, key))
    return node.checked(shape, node.text()) if shape else node.text()


def _extras(value: str) -> str:
    for extra in (e.strip() for e in value.split(",")):
        if extra:
            names.check("Python package name", extra)
    return value
