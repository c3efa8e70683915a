"""Does an OSV record affect a locked version? Its ranges evaluated here, not taken on trust.

ECOSYSTEM ranges compare versions the way the ecosystem orders them (PEP 440 for PyPI, semver
for npm, Go and Bitnami), SEMVER ranges by semver. A GIT range names commits, which no version
number can be placed among: such a record is ``UNDECIDED`` unless its ``versions`` list (which
OSV enumerates from the repository's tags) names the version.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from builder.auditing.records import Affected, Range, Vulnerability
from builder.config.versions import semver_key

_VersionKey = Callable[[str], Any]


class Verdict(enum.Enum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not affected"
    UNDECIDED = "undecided"  # only GIT ranges: commits, not versions


@dataclass(frozen=True)
class Match:
    verdict: Verdict
    fixed: tuple[str, ...] = ()  # the versions that fix it, of the ranges that hold this version


def _pep440(version: str) -> Any:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return None


def _semver(version: str) -> Any:
    return semver_key(version) or None


def _key(range_type: str, ecosystem: str) -> _VersionKey:
    return _pep440 if range_type == "ECOSYSTEM" and ecosystem == "PyPI" else _semver


def _same_package(ecosystem: str, a: str, b: str) -> bool:
    if ecosystem == "PyPI":
        return canonicalize_name(a) == canonicalize_name(b)
    return a == b


def match(record: Vulnerability, ecosystem: str, package: str, version: str) -> Match:
    """The verdict of every affected entry for this package, the strongest one winning."""
    verdicts = [_entry(a, version) for a in record.affected
                if a.ecosystem == ecosystem and _same_package(ecosystem, a.package, package)]  # fmt: skip
    hits = [m for m in verdicts if m.verdict is Verdict.AFFECTED]
    if hits:
        return Match(Verdict.AFFECTED, tuple(sorted({f for m in hits for f in m.fixed})))
    if any(m.verdict is Verdict.UNDECIDED for m in verdicts):
        return Match(Verdict.UNDECIDED)
    return Match(Verdict.NOT_AFFECTED)


def _entry(affected: Affected, version: str) -> Match:
    in_ranges = [r for r in affected.ranges if r.type != "GIT" and _in_range(r, version, affected.ecosystem)]
    fixed = tuple(e.version for r in in_ranges for e in r.events if e.kind == "fixed")
    if in_ranges or version in affected.versions:
        return Match(Verdict.AFFECTED, fixed)
    decidable = [r for r in affected.ranges if r.type != "GIT"]
    if affected.ranges and not decidable and not affected.versions:
        return Match(Verdict.UNDECIDED)
    return Match(Verdict.NOT_AFFECTED)


def _in_range(span: Range, version: str, ecosystem: str) -> bool:
    """OSV's evaluation: events in version order; introduced opens, fixed and last_affected close."""
    key = _key(span.type, ecosystem)
    at = key(version)
    if at is None:
        return False
    ordered = []
    for event in span.events:
        point = None if event.kind == "introduced" and event.version == "0" else key(event.version)
        if point is None and event.version != "0":
            continue  # a version this ecosystem cannot read: it says nothing about ours
        ordered.append((point, event.kind))
    ordered.sort(key=lambda pair: (pair[0] is not None, pair[0] if pair[0] is not None else at))
    return _walk(ordered, at)


def _walk(ordered: list[tuple[Any, str]], at: Any) -> bool:
    affected = False
    for point, kind in ordered:
        if kind == "introduced" and (point is None or at >= point):
            affected = True
        elif (kind == "fixed" and at >= point) or (kind == "last_affected" and at > point):
            affected = False
        elif kind == "limit" and at >= point:
            return False
    return affected
