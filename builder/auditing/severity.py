"""How bad a finding is: a level, from the CVSS v3 base score (computed here) or the record's label.

The CVSS v3.x base score is the published formula of FIRST's specification (section 7); a
v4 vector's score needs the specification's lookup tables, so a record with only a v4 vector
and no label is rated ``unknown`` rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from builder.auditing.records import Vulnerability

__all__ = ["Severity", "cvss3_base_score", "rank", "severity_of"]  # the score: a library function
_LEVELS = ("unknown", "low", "medium", "high", "critical")
_LABELS = {"LOW": "low", "MODERATE": "medium", "MEDIUM": "medium", "HIGH": "high", "CRITICAL": "critical"}

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_PR = {"N": (0.85, 0.85), "L": (0.62, 0.68), "H": (0.27, 0.5)}  # (scope unchanged, scope changed)
_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


@dataclass(frozen=True)
class Severity:
    level: str  # one of _LEVELS
    score: float | None = None  # the CVSS v3 base score, when there was a vector
    vector: str = ""

    @property
    def rank(self) -> int:
        return _LEVELS.index(self.level)

    def __str__(self) -> str:
        return f"{self.level} {self.score:.1f}" if self.score is not None else self.level


def rank(level: str) -> int:
    return _LEVELS.index(level)


def _level_of(score: float) -> str:
    """CVSS's qualitative rating; a score of 0.0 (none) counts as low: it is still a record."""
    for bound, level in ((9.0, "critical"), (7.0, "high"), (4.0, "medium")):
        if score >= bound:
            return level
    return "low"


def severity_of(record: Vulnerability, ecosystem_label: str = "") -> Severity:
    """A v3 vector's computed score first, else the record's (or its affected entry's) label."""
    for score in record.scores:
        if score.type == "CVSS_V3":
            base = cvss3_base_score(score.vector)
            if base is not None:
                return Severity(_level_of(base), base, score.vector)
    label = _LABELS.get(record.severity_label) or _LABELS.get(ecosystem_label.upper())
    return Severity(label or "unknown")


def cvss3_base_score(vector: str) -> float | None:
    """The base score of a ``CVSS:3.0/...`` or ``CVSS:3.1/...`` vector; None if it is not one."""
    metrics = _metrics(vector)
    if metrics is None:
        return None
    changed = metrics["S"] == "C"
    iss = 1 - (1 - _CIA[metrics["C"]]) * (1 - _CIA[metrics["I"]]) * (1 - _CIA[metrics["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = (
        8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * _PR[metrics["PR"]][changed] * _UI[metrics["UI"]]
    )
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _round_up(min(total, 10.0))


def _metrics(vector: str) -> dict[str, str] | None:
    prefix, _, rest = vector.partition("/")
    if prefix not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics = dict(part.partition(":")[::2] for part in rest.split("/") if part)
    tables: dict[str, Collection[str]] = {"AV": _AV, "AC": _AC, "PR": _PR, "UI": _UI, "S": ("U", "C"),
                                          "C": _CIA, "I": _CIA, "A": _CIA}  # fmt: skip
    if any(metrics.get(name, "") not in tables[name] for name in _BASE):
        return None
    return metrics


def _round_up(value: float) -> float:
    """CVSS v3.1's Roundup: the smallest one-decimal number >= value, free of float noise."""
    whole = round(value * 100_000)
    if whole % 10_000 == 0:
        return whole / 100_000
    return (math.floor(whole / 10_000) + 1) / 10.0
