"""OSV's archives as CodeArtifact generic packages, so an air-gapped CodeBuild can audit.

Naming scheme:

    namespace   ``osv``
    package     the ecosystem, spelt reversibly: ``eco-`` then each character; a capital letter
                becomes ``-`` and its small letter, ``:`` becomes ``_``: ``PyPI`` -> ``eco--py-p-i``,
                ``Debian:12`` -> ``eco--debian_12``
    version     when it was mirrored, UTC, ``YYYY.MM.DD-HHMMSS`` (sorts as text)
    asset       ``all.zip``

The spelling keeps case out of the name (CodeArtifact compares package names without case) and
is only defined for ecosystems of letters, digits and dots with ``:`` between parts; anything
else is refused, never mangled, so two ecosystems can never share a package.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from builder.errors import UserError

NAMESPACE = "osv"
ASSET = "all.zip"
_PREFIX = "eco-"
_ECOSYSTEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9.]{0,60}(?::[A-Za-z0-9][A-Za-z0-9.]{0,60}){0,3}")
_PACKAGE = re.compile(r"eco-(?:-[a-z]|_|[a-z0-9.])+")
_VERSION = re.compile(r"\d{4}\.\d{2}\.\d{2}-\d{6}")


def package_name(ecosystem: str) -> str:
    """The package holding ``ecosystem``'s archive; UserError for a name it cannot spell reversibly."""
    if not _ECOSYSTEM.fullmatch(ecosystem):
        raise UserError(
            f"OSV ecosystem {ecosystem!r}: cannot be mirrored into CodeArtifact (only letters, digits and "
            "dots, parts joined by ':'); audit it online or with `builder store osv --into DIR`"
        )
    spelt = _PREFIX + "".join(f"-{c.lower()}" if c.isupper() else "_" if c == ":" else c for c in ecosystem)
    if ecosystem_of(spelt) != ecosystem:  # the reason the spelling exists: it must read back
        raise UserError(f"OSV ecosystem {ecosystem!r}: cannot be mirrored into CodeArtifact reversibly")
    return spelt


def ecosystem_of(package: str) -> str:
    """The inverse of ``package_name``."""
    if not _PACKAGE.fullmatch(package):
        raise UserError(f"CodeArtifact package {package!r} in namespace {NAMESPACE} is not an OSV mirror")
    body, out, i = package[len(_PREFIX) :], [], 0
    while i < len(body):
        if body[i] == "-":
            out.append(body[i + 1].upper())
            i += 2
            continue
        out.append(":" if body[i] == "_" else body[i])
        i += 1
    return "".join(out)


def mirror_version(now: datetime) -> str:
    """The version a mirror made at ``now`` (aware) is published under."""
    if now.tzinfo is None:
        raise ValueError("the mirror clock must give aware datetimes")
    return now.astimezone(UTC).strftime("%Y.%m.%d-%H%M%S")


def mirrored_at(version: str) -> datetime | None:
    """When a mirror version was made; None for a version this scheme did not write."""
    if not _VERSION.fullmatch(version):
        return None
    return datetime.strptime(version, "%Y.%m.%d-%H%M%S").replace(tzinfo=UTC)


# ecosystem_of: the tests read every name back to prove the spelling reversible
__all__ = ["ASSET", "NAMESPACE", "ecosystem_of", "mirror_version", "mirrored_at", "package_name"]
