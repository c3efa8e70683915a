"""The one error tree: every error holds data and builds its message in ``__str__``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from builder.config.names import printable
from builder.plumbing.redact import redact


class BuilderError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1
    # One line (control characters escaped) unless builder composed several on purpose: an
    # upstream's text inside a message must never forge a second line of a log or an answer.
    multiline = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        # Every message, however a subclass builds it, passes through ``printable``.
        super().__init_subclass__()
        own = cls.__dict__.get("__str__")
        if own is not None:
            setattr(cls, "__str__", _one_line(own))  # noqa: B010 - mypy forbids assigning a method

    def __str__(self) -> str:
        return printable(super().__str__())


def _one_line(message: Callable[[BuilderError], str]) -> Callable[[BuilderError], str]:
    def one_line(error: BuilderError) -> str:
        text = message(error)
        return text if error.multiline else printable(text)

    return one_line


class UserError(BuilderError):
    """Something the user can fix: bad input, a failed operation with a known cause."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(UserError):
    """Bad configuration: exits 2 and names where the problem is."""

    exit_code = 2

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where

    def __str__(self) -> str:
        # One line, always: the file, line and value it names come from files that may be hostile.
        return printable(f"{self.where}: {self.message}")


class ProgramMissing(UserError):
    """A program a source runs (npm, say) is not installed where builder runs (the Lambda has none)."""


class UpstreamError(UserError):
    """An upstream could not be asked, or answered something unusable."""


class SignatureError(UserError):
    """A signed checksum file did not verify against the committed public key."""


class LockfileError(ConfigError):
    """The lockfile is malformed or does not match the catalogue."""


class TemplateError(ConfigError):
    """A Jinja template failed to load or render."""


class GraphError(ConfigError):
    """The image graph is not a DAG or names an image that does not exist."""


@dataclass(frozen=True)
class Mismatch:
    tool: str
    platform: str
    expected: str
    actual: str


class ChecksumError(UserError):
    """Bytes differ from the digest the lockfile records."""

    def __init__(self, mismatch: Mismatch, subject: str) -> None:
        super().__init__(subject)
        self.mismatch = mismatch
        self.subject = subject

    def __str__(self) -> str:
        m = self.mismatch
        return (
            f"sha256 mismatch for {m.tool} ({m.platform}) {self.subject}: "
            f"expected {m.expected}, got {m.actual}"
        )


class IncompleteAnswer(UpstreamError):
    """An answer that ended, or went silent, before all its bytes came; retried, and still short.

    ``received`` and ``expected`` count the body's bytes (``expected`` is None when the upstream
    named no length).
    """

    def __init__(self, url: str, received: int, expected: int | None, stalled: bool, attempts: int) -> None:
        super().__init__(url)
        self.url, self.received, self.expected = url, received, expected
        self.stalled, self.attempts = stalled, attempts

    def __str__(self) -> str:
        how = "the upstream stopped answering" if self.stalled else "the answer was cut short"
        of = f" of {self.expected}" if self.expected is not None else ""
        tries = f"; gave up after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"GET {redact(self.url)}: {how} after {self.received}{of} bytes{tries}"


@dataclass(frozen=True)
class ArtifactName:
    """Which artifact a download was for, as every download failure names it."""

    tool: str
    version: str
    platform: str
    file: str

    def __str__(self) -> str:
        return f"{self.tool} {self.version} ({self.platform})"


class DownloadError(UpstreamError):
    """A download that failed, named by its artifact; ``cause`` is the HTTP error, with its data."""

    def __init__(self, artifact: ArtifactName, cause: UpstreamError) -> None:
        super().__init__(str(cause))
        self.artifact, self.cause = artifact, cause

    def __str__(self) -> str:
        return f"{self.artifact}: cannot download {self.artifact.file}: {self.cause}"
