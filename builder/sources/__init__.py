"""Upstream sources, one module each, registered in SOURCES.

Each entry names the catalogue keys a source reads (and how each is read), the version scheme
its constraints use, the payload its locks hold (which decides the install kinds it can feed)
and how to make it; a source's module is imported only when one is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.config import names
from builder.config.catalogue import UpstreamValue
from builder.config.document import Node
from builder.kinds.npm_package import NpmTree
from builder.kinds.python_app import Requirements
from builder.kinds.release_files import Artifacts

if TYPE_CHECKING:
    from builder.sources.base import Source, SourceDeps

_Read = Callable[[Node], UpstreamValue]


def _text(node: Node) -> UpstreamValue:
    return node.text()


def _shaped(kind: str) -> _Read:
    return lambda node: node.checked(lambda value: names.check(kind, value), node.text())


def _template(node: Node) -> UpstreamValue:
    return node.checked(names.check_template, node.text())


def _flag(node: Node) -> UpstreamValue:
    return node.boolean()


def _extras(node: Node) -> UpstreamValue:
    """``extras: a, b`` or a list: each one a Python package name."""
    items = node.texts() if isinstance(node.value, list) else tuple(node.text().split(","))
    words = tuple(extra.strip() for extra in items if extra.strip())
    for extra in words:
        node.checked(lambda value: names.check("Python package name", value), extra)
    return words


@dataclass(frozen=True)
class SourceKind:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    scheme: str
    produces: type
    make: Callable[[SourceDeps], Source]
    readers: Mapping[str, _Read] = field(default_factory=dict)  # a key not named here is a text

    def read(self, key: str, node: Node) -> UpstreamValue:
        return self.readers.get(key, _text)(node)


def _github(deps: SourceDeps) -> Source:
    from builder.sources.github import GitHubSource

    return GitHubSource(deps)


def _hashicorp(deps: SourceDeps) -> Source:
    from builder.sources.hashicorp import HashiCorpSource

    return HashiCorpSource(deps)


def _nodejs(deps: SourceDeps) -> Source:
    from builder.sources.nodejs import NodeSource

    return NodeSource(deps)


def _npm(deps: SourceDeps) -> Source:
    from builder.sources.npm import NpmSource

    return NpmSource(deps)


def _pypi(deps: SourceDeps) -> Source:
    from builder.sources.pypi import PyPISource

    return PyPISource(deps)


SOURCES: dict[str, SourceKind] = {
    "github": SourceKind(
        ("repository",),
        ("tag", "checksums", "prereleases"),
        "semver",
        Artifacts,
        _github,
        {"repository": _shaped("repository"), "tag": _template, "checksums": _template, "prereleases": _flag},
    ),
    "hashicorp": SourceKind(
        ("product",), (), "semver", Artifacts, _hashicorp, {"product": _shaped("product")}
    ),
    "nodejs": SourceKind((), (), "semver", Artifacts, _nodejs),
    "npm": SourceKind(("package",), (), "semver", NpmTree, _npm, {"package": _shaped("npm package name")}),
    "pypi": SourceKind(
        ("package",),
        ("extras",),
        "pep440",
        Requirements,
        _pypi,
        {"package": _shaped("Python package name"), "extras": _extras},
    ),
}


def make_sources(deps: SourceDeps, wanted: set[str] | None = None) -> dict[str, Source]:
    """An instance of each source (only those named), all sharing what they may use."""
    return {name: kind.make(deps) for name, kind in SOURCES.items() if wanted is None or name in wanted}
