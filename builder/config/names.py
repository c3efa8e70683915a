"""The shapes a name may take before it becomes a path, a URL or a word in a shell command.

Every name in tools.yaml, builder.lock and the image definitions is checked against one of these
when the file is loaded, and every entry a source locks is checked again before it is written:
a reviewed file is exactly what an attacker edits, and an upstream's answer is the other input
nobody controls. The sets are deliberately small (no spaces, quotes, ``$``, ``/`` where a single
path component is meant, no leading ``-`` or ``.``), so a name that passes is inert in a path,
a Dockerfile and a POSIX shell even before the templates quote it.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# One path component: starts with a letter or digit (never '.', '..' or an option's '-').
_COMPONENT = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
_PATTERNS = {
    "tool name": re.compile(r"[a-z0-9][a-z0-9._-]{0,63}"),
    "file name": re.compile(rf"(?=.{{1,255}}$){_COMPONENT}"),
    "version": re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}"),
    "command name": re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}"),
    "Python package name": re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?"),
    "npm package name": re.compile(r"(@[a-z0-9][a-z0-9._~-]{0,213}/)?[A-Za-z0-9][A-Za-z0-9._~-]{0,213}"),
    "repository": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}"),
    "product": re.compile(r"[a-z0-9][a-z0-9-]{0,63}"),
    "environment variable": re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}"),
    "label": re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}"),
}
_RELATIVE = re.compile(rf"{_COMPONENT}(/{_COMPONENT})*")
_ABSOLUTE = re.compile(rf"(/{_COMPONENT})+/?|/")
_NPM_PATH = re.compile(r"node_modules/((@[a-z0-9][a-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*)")
_PLACEHOLDER = "{version}"
# Control, format (bidi overrides, zero-width) and line/paragraph separators: what can break a
# line, hide text from a reviewer or reorder it on screen (Trojan Source).
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check(kind: str, value: str) -> str:
    """``value`` when it has the shape of a ``kind``; ValueError saying what was expected if not."""
    if not _PATTERNS[kind].fullmatch(value):
        raise ValueError(f"bad {kind} {_shown(value)} ({_HINTS.get(kind, _DEFAULT_HINT)})")
    return value


def check_relative_path(value: str, what: str = "path") -> str:
    """A path inside some folder: components of letters, digits and ``._+-``, no ``..``, not absolute."""
    if not _RELATIVE.fullmatch(value) or ".." in value.split("/") or len(value) > 1024:
        raise ValueError(
            f"bad {what} {_shown(value)} (a relative path inside the tool's payload: "
            "components of letters, digits and '._+-', none starting with '.' or '-')"
        )
    return value


def check_absolute_path(value: str, what: str = "path") -> str:
    if not _ABSOLUTE.fullmatch(value) or ".." in value.split("/") or len(value) > 1024:
        raise ValueError(f"bad {what} {_shown(value)} (an absolute path of letters, digits and '._+-')")
    return value


def check_template(value: str) -> str:
    """A file name with ``{version}`` where the version goes, and no other braces."""
    check("file name", value.replace(_PLACEHOLDER, "0"))
    if value.replace(_PLACEHOLDER, "").count("{") or value.replace(_PLACEHOLDER, "").count("}"):
        raise ValueError(f"bad file name {_shown(value)} ('{_PLACEHOLDER}' is the only placeholder)")
    return value


def fill(template: str, version: str) -> str:
    """The template with the version in it: a plain replacement, since ``str.format`` would also
    evaluate ``{version.__class__}`` and the like from a reviewed file."""
    return template.replace(_PLACEHOLDER, version)


def check_npm_path(value: str) -> str:
    """A package-lock key: ``node_modules/<name>`` nested through further ``/node_modules/<name>``."""
    rest = value
    while rest:
        match = _NPM_PATH.match(rest)
        if not match or match.group(1).rsplit("/", 1)[-1] in (".", ".."):
            raise ValueError(f"bad npm package path {_shown(value)} (expected node_modules/<name>/...)")
        rest = rest[match.end() :]
        if rest and not rest.startswith("/node_modules/"):
            raise ValueError(f"bad npm package path {_shown(value)} (expected node_modules/<name>/...)")
        rest = rest[1:]
    if not value:
        raise ValueError("bad npm package path '' (expected node_modules/<name>)")
    return value


def check_url(value: str, what: str = "URL") -> str:
    """An http(s) URL with a host and no whitespace or control characters."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or _bad_text(value):
        raise ValueError(f"bad {what} {_shown(value)} (expected an http:// or https:// URL)")
    return value


def check_text(value: str) -> str:
    """Free text that ends up in a comment or a message: one line, no control characters."""
    if _bad_text(value):
        raise ValueError(f"{_shown(value)} has a line break or control character (one line of text expected)")
    return value


def printable(text: str, keep: str = "") -> str:
    """``text`` with each control character escaped (but those in ``keep``), so a hostile value
    cannot break a message into lines (a forged second line in a log) or drive a terminal."""
    return "".join(_escaped(c) if _is_control(c) and c not in keep else c for c in text)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in _CONTROL_CATEGORIES


def _escaped(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def _bad_text(value: str) -> bool:
    return any(_is_control(c) for c in value)


def _shown(value: str) -> str:
    text = value if len(value) <= 60 else value[:57] + "..."
    return repr(text) if _bad_text(text) or "'" in text else f"'{text}'"


_DEFAULT_HINT = "letters, digits and '._+-', starting with a letter or digit"
_HINTS = {
    "tool name": "lowercase letters, digits, '.', '_', '-'; at most 64",
    "file name": "letters, digits and '._+-', starting with a letter or digit; at most 255",
    "version": "letters, digits and '.+_-', starting with a letter or digit; at most 64",
    "Python package name": "letters, digits and '._-', as PEP 508 names are",
    "npm package name": "[@scope/]name of letters, digits and '._~-'",
    "repository": "owner/name",
    "product": "lowercase letters, digits and '-'",
    "environment variable": "letters, digits and '_', not starting with a digit",
    "label": "letters, digits and '._/-'",
}
