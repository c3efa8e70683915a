"""OSV records (https://ossf.github.io/osv-schema/) as typed values, read defensively."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.errors import UpstreamError


@dataclass(frozen=True)
class Event:
    """One event of a range: ``kind`` is introduced, fixed, last_affected or limit."""

    kind: str
    version: str


@dataclass(frozen=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER or GIT
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Affected:
    ecosystem: str
    package: str
    ranges: tuple[Range, ...]
    versions: frozenset[str]
    severity_label: str = ""  # affected[].database_specific.severity, when the record has one there


@dataclass(frozen=True)
class Score:
    type: str  # CVSS_V2, CVSS_V3, CVSS_V4
    vector: str


@dataclass(frozen=True)
class Vulnerability:
    id: str
    summary: str
    aliases: tuple[str, ...]
    affected: tuple[Affected, ...]
    scores: tuple[Score, ...] = ()
    severity_label: str = ""  # database_specific.severity (GitHub's LOW, MODERATE, HIGH, CRITICAL)
    withdrawn: bool = False

    @property
    def names(self) -> frozenset[str]:
        """Its id and aliases: an accepted finding may be named by any of them."""
        return frozenset((self.id, *self.aliases))


_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


def read_record(data: Any, where: str) -> Vulnerability:
    """A record as OSV serves it; UpstreamError naming ``where`` when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise UpstreamError(f"{where}: not an OSV record (no id)")
    try:
        return Vulnerability(
            id=data["id"],
            summary=str(data.get("summary") or data.get("details", "")[:200]).strip(),
            aliases=tuple(str(a) for a in data.get("aliases") or ()),
            affected=tuple(_affected(a) for a in data.get("affected") or ()),
            scores=tuple(Score(str(s["type"]), str(s["score"])) for s in data.get("severity") or ()),
            severity_label=_label(data.get("database_specific")),
            withdrawn=bool(data.get("withdrawn")),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise UpstreamError(
            f"{where}: OSV record {data['id']} is malformed ({type(e).__name__}: {e})"
        ) from None


def _affected(data: dict[str, Any]) -> Affected:
    package = data.get("package") or {}
    return Affected(
        ecosystem=str(package.get("ecosystem", "")),
        package=str(package.get("name", "")),
        ranges=tuple(_range(r) for r in data.get("ranges") or ()),
        versions=frozenset(str(v) for v in data.get("versions") or ()),
        severity_label=_label(data.get("database_specific")) or _label(data.get("ecosystem_specific")),
    )


def _range(data: dict[str, Any]) -> Range:
    events = tuple(
        Event(kind, str(event[kind]))
        for event in data.get("events") or ()
        for kind in _EVENT_KINDS
        if kind in event
    )
    return Range(str(data["type"]), events)


def _label(specific: object) -> str:
    if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
        return str(specific["severity"]).upper()
    return ""
