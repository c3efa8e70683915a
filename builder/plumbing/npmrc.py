"""The user's npm configuration file: where it is, and the registry tokens in it, matched as npm matches them.

npm keys a token by a "nerf dart", the registry URL without its scheme (``//host[:port]/path/``),
and sends it only to URLs under that prefix; builds get the same file as a BuildKit secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from builder.errors import UserError
from builder.plumbing.redact import register_secret

TOKEN_KEY = ":_authToken"  # noqa: S105 (the npmrc key name, not a token)
_ENV_REFERENCE = re.compile(r"(?<!\\)\$\{([^${}]+)\}")  # npm expands ${NAME} in npmrc values
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class NpmAuth:
    """The ``//host[:port]/path/:_authToken=<token>`` lines of one npmrc, as npm matches them."""

    npmrc: Path
    tokens: Mapping[str, str]  # nerf-dart ("//host:port/path/") -> token, ${NAME} expanded
    unset: Mapping[str, str]  # nerf-dart -> the variable its value names that is not set

    def match(self, url: str) -> tuple[str, str] | None:
        """The longest nerf-dart prefix of ``url`` that has a token, and the token."""
        return next(((dart, self.tokens[dart]) for dart in nerf_darts(url) if dart in self.tokens), None)


def npmrc_path(env: Mapping[str, str]) -> Path:
    """Where npm reads the user's configuration (the same file builder.building.secrets passes to builds)."""
    named = env.get("NPM_CONFIG_USERCONFIG") or env.get("npm_config_userconfig")
    return Path(named or Path(env.get("HOME", "~")) / ".npmrc").expanduser()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise UserError(f"cannot read the npm configuration {path}: {e.strerror}") from None


def check_references(path: Path, env: Mapping[str, str]) -> None:
    """Refuse an npmrc that names a variable ``env`` does not set, before anything is built with it.

    A token line naming one would reach the build with no token (the registry then answers 401),
    and npm reads any other such ``${NAME}`` as that very text.
    """
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if line.lstrip().startswith((";", "#")):
            continue
        for name in (name for name in _ENV_REFERENCE.findall(line) if name not in env):
            effect = _unset_effect(line, name)
            raise UserError(
                f"{path}:{number}: ${{{name}}} is not set, so {effect} (set {name}, or remove the line)"
            )


def _unset_effect(line: str, name: str) -> str:
    key = line.partition("=")[0].strip()
    if key.startswith("//") and key.endswith(TOKEN_KEY):
        return f"builds would send no token to {key.removesuffix(TOKEN_KEY)}"
    return f"npm would read {key} as the text ${{{name}}}"


def read_npm_auth(path: Path, env: Mapping[str, str]) -> NpmAuth:
    """Every token line of ``path`` (none when it does not exist); each token is registered for redaction."""
    text = _read(path)
    tokens, unset = {}, {}
    for key, value in _token_lines(text):
        missing = [name for name in _ENV_REFERENCE.findall(value) if name not in env]
        if missing:
            unset[key] = missing[0]
            continue
        tokens[key] = _ENV_REFERENCE.sub(lambda m: env[m[1]], value)
        register_secret(tokens[key])
    return NpmAuth(path, tokens, unset)


def _token_lines(text: str) -> Iterator[tuple[str, str]]:
    """(nerf-dart, raw value) of each ``//...:_authToken = value`` line (ini: ; and # comment)."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        key, value = key.strip(), value.strip()
        if sep and key.startswith("//") and key.endswith(TOKEN_KEY):
            if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            if value:
                yield key.removesuffix(TOKEN_KEY), value


def nerf_darts(url: str) -> Iterator[str]:
    """npm's candidates for a URL, longest first: ``//host:port/a/b/``, ``//host:port/a/b``, ... ``//host``.

    As npm walks them (npm-registry-fetch), a prefix always ends at a path segment's boundary.
    """
    parts = urlsplit(url)
    try:
        port = parts.port if parts.port != _DEFAULT_PORTS.get(parts.scheme) else None
    except ValueError:
        return  # no valid port: no prefix of it can match, and no token goes to it
    netloc = (parts.hostname or "") + (f":{port}" if port else "")
    dart = f"//{netloc}{parts.path[: parts.path.rfind('/') + 1] or '/'}"
    while len(dart) > len("//"):
        yield dart
        dart = re.sub(r"([^/]+|/)$", "", dart)


def build_npmrc(path: Path, env: Mapping[str, str], registry: str | None) -> tuple[str, tuple[str, ...]]:
    """The npmrc a build gets, and the tokens in it: the user's file with every token written out.

    ``${NAME}`` in a token line is expanded here, because the variable does not exist inside the
    build; the file only ever lives in a private folder and reaches BuildKit as a secret.
    ``registry`` (builder.yaml's) goes last, so npm takes it over the user's own.
    """
    auth = read_npm_auth(path, env)
    text = path.read_text() if path.is_file() else ""
    kept = [line for line in text.splitlines() if not _is_token_line(line)]
    tokens = [f"{dart}{TOKEN_KEY}={token}" for dart, token in sorted(auth.tokens.items())]
    lines = [*kept, *tokens, *([f"registry={registry}"] if registry else [])]
    return ("\n".join(lines) + "\n" if lines else ""), tuple(auth.tokens.values())


def _is_token_line(line: str) -> bool:
    key = line.strip().partition("=")[0].strip()
    return key.startswith("//") and key.endswith(TOKEN_KEY)
