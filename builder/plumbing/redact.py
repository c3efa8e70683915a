"""Keep secrets out of messages: credentials in URLs and known token values are masked."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<secret>[^@/\s]+)@", re.I)
_NPM_TOKEN = re.compile(r"(_authToken\s*=\s*)\S+")
_BEARER = re.compile(r"(?i)(authorization:\s*(?:bearer|token|basic)\s+)\S+")


# Credentials read from the user's configuration (an npmrc token): kept for the whole process on
# purpose, since an error that might quote one is often formatted far from where it was read.
_REGISTERED: set[str] = set()
_REGISTERED_LOCK = threading.Lock()
_MIN_SECRET = 6  # shorter values would mask ordinary words


def register_secret(value: str) -> None:
    """Mask ``value`` in every later ``redact`` (so in every error the CLI or the Lambda reports)."""
    if len(value) >= _MIN_SECRET:
        with _REGISTERED_LOCK:
            _REGISTERED.add(value)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    with _REGISTERED_LOCK:
        registered = sorted(_REGISTERED, key=len, reverse=True)  # a longer secret before its substrings
    for secret in (*secrets, *registered):
        if secret:
            text = text.replace(secret, "****")
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:****@", text)
    text = _NPM_TOKEN.sub(r"\1****", text)
    return _BEARER.sub(r"\1****", text)
