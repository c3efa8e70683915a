"""JSON an upstream answered, read only through accessors that check each value's type.

An upstream's answer is as hostile as a reviewed file: a key missing, a list where a string was
documented or a URL pointing somewhere else must end in one line naming the answer and the
place in it (``assets[2].browser_download_url``), never in a ``KeyError`` three frames down.
The sources read every field through an ``Answer`` and keep the result as their own typed
records, so no untyped value travels further than the line that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from builder.config.names import check_url
from builder.errors import UpstreamError
from builder.plumbing.credentials import Scope

_T = TypeVar("_T")
_MISSING = object()
_KINDS = {str: "a string", int: "a number", bool: "true or false", list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Answer:
    """One value of a JSON answer; ``what`` names the answer, ``path`` the value inside it."""

    value: object
    what: str
    path: str = ""

    def __getitem__(self, key: str) -> Answer:
        """The member ``key`` of this object (absent when it has none; an error if this is no object)."""
        fields = self._typed(dict, "an object")
        return Answer(fields.get(key, _MISSING), self.what, f"{self.path}.{key}" if self.path else key)

    @property
    def absent(self) -> bool:
        """Missing, or JSON's null: GitHub and npm write either for "none"."""
        return self.value is _MISSING or self.value is None

    def items(self) -> list[Answer]:
        return [Answer(v, self.what, f"{self.path}[{i}]") for i, v in enumerate(self._typed(list, "a list"))]

    def members(self) -> dict[str, Answer]:
        """An object's members by key (JSON keys are always strings)."""
        fields = self._typed(dict, "an object")
        return {k: Answer(v, self.what, f"{self.path}.{k}" if self.path else k) for k, v in fields.items()}

    def text(self) -> str:
        return self._typed(str, "a string")

    def optional_text(self) -> str | None:
        return None if self.absent else self.text()

    def integer(self) -> int:
        return self._typed(int, "a number")

    def optional_integer(self) -> int | None:
        return None if self.absent else self.integer()

    def flag(self) -> bool:
        """A boolean, false when absent."""
        return False if self.absent else self._typed(bool, "true or false")

    def link(self) -> str:
        """An http(s) URL that is only shown (release notes in a pull request), never fetched."""
        url = self.text()
        try:
            return check_url(url)
        except ValueError as e:
            raise UpstreamError(f"{self.what}: {self._where()}: {e}") from None

    def url(self, *homes: Scope) -> str:
        """An http(s) URL under one of ``homes``: an answer may not send the client (or a credential)
        anywhere else, such as a cloud's metadata address."""
        url = self.link()
        if not any(home.covers(url) for home in homes):
            raise UpstreamError(
                f"{self.what}: {self._where()} points outside {' and '.join(map(str, homes))}: "
                "refusing to follow it"
            )
        return url

    def error(self, expected: str) -> UpstreamError:
        return UpstreamError(f"{self.what}: {self._where()} is {self._got()}, expected {expected}")

    def _typed(self, kind: type[_T], expected: str) -> _T:
        # bool is an int to Python, not to JSON
        if not isinstance(self.value, kind) or (kind is int and isinstance(self.value, bool)):
            raise self.error(expected)
        return self.value

    def _where(self) -> str:
        return f"'{self.path}'" if self.path else "the answer"

    def _got(self) -> str:
        if self.value is _MISSING:
            return "missing"
        if self.value is None:
            return "null"
        return next((name for kind, name in _KINDS.items() if type(self.value) is kind), "another value")
