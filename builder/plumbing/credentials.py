"""Credentials as values: each one belongs to one origin and path prefix, and goes nowhere else.

A host name alone is not a scope: GitHub Enterprise serves its API (``/api/v3``), its npm
registry and its release downloads under one host, and a corporate proxy serves many upstreams
under one. So a credential names scheme, host, port (default ports normalised) and a path prefix
that ends at a segment boundary; a header the caller set itself is never replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from builder.plumbing.redact import redact, register_secret

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Scope:
    """Where a credential may go: ``https://ghe.example/api/v3`` covers ``/api/v3/repos``, not ``/api/v3x``.

    Built by ``parse``; ``covers`` is the only test of a URL against it.
    """

    scheme: str
    host: str
    port: int
    path: str  # "" (the whole origin) or "/a/b", without a trailing slash

    @classmethod
    def parse(cls, url: str) -> Scope:
        """The scope of ``url``; ValueError for what no credential may be scoped to (no http(s), no host)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {redact(url)!r}")
        port = parts.port  # ValueError for a port that is not one
        port = _DEFAULT_PORTS[scheme] if port is None else port
        return cls(scheme, parts.hostname.lower(), port, _segments(parts.path))

    def covers(self, url: str) -> bool:
        """Same origin, and a path at or below this one; never a path that could climb out of it."""
        try:
            other = Scope.parse(url)
        except ValueError:
            return False
        if (other.scheme, other.host, other.port) != (self.scheme, self.host, self.port):
            return False
        return other.path == self.path or other.path.startswith(self.path + "/")

    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def __str__(self) -> str:
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path}"


def _segments(path: str) -> str:
    """``path`` without its trailing slash; ValueError for one that could climb out of a prefix.

    Servers and proxies disagree on dot segments and encoded slashes, so a path holding one might
    reach anywhere on its host: no credential is scoped to it or sent to it.
    """
    for name in path.split("/"):
        decoded = unquote(name)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            raise ValueError(f"an ambiguous path: {path!r}")
    return path.rstrip("/")


@dataclass(frozen=True)
class Credential:
    """A header (``Authorization: Bearer ...``) that goes to URLs its scope covers and nowhere else."""

    scope: Scope
    header: str
    value: str = field(repr=False)  # never in a repr, a log line or a traceback

    @classmethod
    def bearer(cls, url: str, token: str) -> Credential:
        """``Authorization: Bearer <token>`` for ``url`` and below; the token is masked in every message."""
        register_secret(token)
        return cls(Scope.parse(url), "Authorization", f"Bearer {token}")


def headers_for(url: str, given: Mapping[str, str], credentials: Iterable[Credential]) -> dict[str, str]:
    """``given`` plus the credentials covering ``url``: the caller's header wins, then the longest prefix."""
    out = dict(given)
    present = {name.lower() for name in out}
    covering = [c for c in credentials if c.scope.covers(url)]
    for credential in sorted(covering, key=lambda c: len(c.scope.path), reverse=True):
        if credential.header.lower() not in present:
            out[credential.header] = credential.value
            present.add(credential.header.lower())
    return out


def github_credentials(api: str, token: str | None) -> tuple[Credential, ...]:
    """The GitHub token for the API at ``api`` and below (none without a token or an http(s) API)."""
    if not token:
        return ()
    try:
        return (Credential.bearer(api, token),)
    except ValueError:
        return ()


def same_origin(url: str, other: str) -> bool:
    """Scheme, host and port equal (default ports normalised); False for anything unparsable."""
    try:
        return Scope.parse(url).origin() == Scope.parse(other).origin()
    except ValueError:
        return False
