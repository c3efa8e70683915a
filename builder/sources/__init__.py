"""Upstream sources, one entry per kind; the sorted keys of SOURCES drive catalogue validation.

Each source names the catalogue keys it needs to find a tool upstream, the version scheme its
constraints use and the install kinds it can feed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceKind:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    scheme: str
    installs: tuple[str, ...]


_BINARY = ("archive", "binary")

SOURCES: dict[str, SourceKind] = {
    "github": SourceKind(("repository",), ("tag", "checksums", "prereleases"), "semver", _BINARY),
    "hashicorp": SourceKind(("product",), (), "semver", _BINARY),
    "nodejs": SourceKind((), (), "semver", _BINARY),
    "npm": SourceKind(("package",), (), "semver", ("npm-package",)),
    "pypi": SourceKind(("package",), ("extras",), "pep440", ("python-app",)),
}
