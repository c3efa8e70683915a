"""Keep secrets out of messages: credentials in URLs and known token values are masked."""

from __future__ import annotations

import re
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<secret>[^@/\s]+)@", re.I)
_NPM_TOKEN = re.compile(r"(_authToken\s*=\s*)\S+")
_BEARER = re.compile(r"(?i)(authorization:\s*(?:bearer|token|basic)\s+)\S+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:****@", text)
    text = _NPM_TOKEN.sub(r"\1****", text)
    return _BEARER.sub(r"\1****", text)
