"""Version constraints: PEP 440 for Python apps, semver-style ranges for everything else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_NUMBERS = re.compile(r"^v?(\d+(?:\.\d+)*)(?:[-+].*)?$")
_CLAUSE = re.compile(r"^(\^|~|>=|<=|>|<|==|=)?\s*v?(\d+(?:\.\d+){0,2})(?:\.[x*])?$")
_WILDCARD = re.compile(r"^v?(\d+(?:\.\d+){0,1})\.[x*]$")
_DURATION = re.compile(r"^(\d+)([dh])$")


def numeric(version: str) -> tuple[int, ...] | None:
    """The release numbers of a semver-ish version, or None for a prerelease or garbage."""
    match = _NUMBERS.match(version)
    if not match or "-" in version:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


_SEMVER = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def semver_key(version: str) -> tuple[Any, ...]:
    """Semver precedence: 1.2.0-rc.1 < 1.2.0-rc.2 < 1.2.0 < 1.2.1; numeric identifiers below words."""
    match = _SEMVER.match(version)
    if not match:
        return ()
    core = _pad(tuple(int(part) for part in match.group(1).split(".")))
    if not match.group(2):
        return (core, 1, ())
    ids = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in match.group(2).split("."))
    return (core, 0, ids)


def _core(version: str) -> tuple[int, ...] | None:
    """The release numbers of any semver version, prerelease or not."""
    match = _SEMVER.match(version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _pad(numbers: tuple[int, ...]) -> tuple[int, ...]:
    return (*numbers, *([0] * (3 - len(numbers))))


def _bump(numbers: tuple[int, ...], index: int) -> tuple[int, ...]:
    head = list(numbers[: index + 1]) + [0] * (2 - index)
    head[index] += 1
    return tuple(head)


def _semver_bounds(clause: str) -> list[tuple[str, tuple[int, ...]]]:
    wildcard = _WILDCARD.match(clause)
    if wildcard:
        nums = tuple(int(p) for p in wildcard.group(1).split("."))
        return [(">=", _pad(nums)), ("<", _bump(nums, len(nums) - 1))]
    match = _CLAUSE.match(clause)
    if not match:
        raise ValueError(f"cannot read '{clause}'")
    op, nums = match.group(1) or "=", tuple(int(p) for p in match.group(2).split("."))
    if op == "^":
        first = next((i for i, n in enumerate(nums) if n), len(nums) - 1)
        return [(">=", _pad(nums)), ("<", _bump(nums, first))]
    if op == "~":
        return [(">=", _pad(nums)), ("<", _bump(nums, min(1, len(nums) - 1)))]
    if op in ("=", "=="):
        if len(nums) < 3:
            return [(">=", _pad(nums)), ("<", _bump(nums, len(nums) - 1))]
        return [("==", nums)]
    return [(op, _pad(nums))]


_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True)
class Constraint:
    """Which versions of a tool may be taken. ``text`` is what the user wrote."""

    text: str
    scheme: str  # "pep440" or "semver"

    @classmethod
    def parse(cls, text: str, scheme: str) -> Constraint:
        constraint = cls(text.strip(), scheme)
        constraint.allows("0")  # parse eagerly so a bad range fails at load time
        return constraint

    @property
    def exact(self) -> str | None:
        """The version an exact pin names (it never moves), else None."""
        text = self.text.lstrip("=v")
        if self.text.startswith(("==", "=")) or (self.scheme == "semver" and _NUMBERS.match(self.text)):
            return text if text.count(".") >= 2 and "*" not in text else None
        return None

    def allows(self, version: str) -> bool:
        if self.text in ("", "*", "latest"):
            return True
        if self.scheme == "pep440":
            return self._allows_pep440(version)
        return self._allows_semver(version)

    def _allows_pep440(self, version: str) -> bool:
        try:
            spec = SpecifierSet(self.text)
        except InvalidSpecifier:
            raise ValueError(f"'{self.text}' is not a PEP 440 specifier (e.g. '>=1.8,<2')") from None
        try:
            return Version(version) in spec
        except InvalidVersion:
            return False

    def _allows_semver(self, version: str) -> bool:
        try:
            bounds = [b for c in re.split(r"[,\s]+", self.text) if c for b in _semver_bounds(c)]
        except ValueError as e:
            raise ValueError(
                f"bad version range '{self.text}': {e} (e.g. '^1.2', '~0.74', '>=1.15,<2', '1.15.x')"
            ) from None
        # A prerelease is judged by its release numbers: 1.3.0-rc.1 fits '^1.2' as 1.3.0 would. Whether
        # prereleases are wanted at all is the catalogue's `prereleases` key, asked before this.
        nums = _core(version)
        return nums is not None and all(_COMPARE[op](_pad(nums), ref) for op, ref in bounds)


def parse_cooldown(text: str) -> timedelta:
    """'7d' or '12h': the minimum age of a release before it is taken."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad cooldown '{text}' (expected a number of days or hours: '7d', '12h')")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
