"""Upstream sources, one module each; the sorted keys of SOURCES drive catalogue validation.

Each entry names the catalogue keys a source needs, the version scheme its constraints use,
the install kinds it can feed, and the class that implements it (imported only when used).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.sources.base import Source, SourceContext


@dataclass(frozen=True)
class SourceKind:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    scheme: str
    installs: tuple[str, ...]
    implementation: str  # "module:Class"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required + self.optional


_BINARY = ("archive", "binary")

SOURCES: dict[str, SourceKind] = {
    "github": SourceKind(
        ("repository",), ("tag", "checksums", "prereleases"), "semver", _BINARY, "github:GitHubSource"
    ),
    "hashicorp": SourceKind(("product",), (), "semver", _BINARY, "hashicorp:HashiCorpSource"),
    "nodejs": SourceKind((), (), "semver", _BINARY, "nodejs:NodeSource"),
    "npm": SourceKind(("package",), (), "semver", ("npm-package",), "npm:NpmSource"),
    "pypi": SourceKind(("package",), ("extras",), "pep440", ("python-app",), "pypi:PyPISource"),
}


def make_sources(ctx: SourceContext, names: set[str] | None = None) -> dict[str, Source]:
    """An instance of each source (only those named), all sharing one context."""
    made: dict[str, Source] = {}
    for name, kind in SOURCES.items():
        if names is None or name in names:
            module, cls = kind.implementation.split(":")
            made[name] = getattr(importlib.import_module(f"builder.sources.{module}"), cls)(ctx)
    return made
