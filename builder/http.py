"""The one HTTP session factory: timeouts, retries with backoff and jitter; no credential in a message."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from builder.errors import UserError
from builder.fsutil import CHUNK
from builder.redact import redact

TIMEOUT = (10.0, 120.0)  # connect, read (between bytes)

Progress = Callable[[int], None]


def make_session(retries: int = 4, backoff: float = 0.5, user_agent: str = "builder") -> requests.Session:
    """A session that retries connection errors, 429 and 5xx with exponential backoff and jitter,
    honouring Retry-After."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    sha256: str


def download(session: requests.Session, url: str, dest: Path, progress: Progress | None = None) -> Downloaded:
    """Stream ``url`` into ``dest``, hashing as it goes; the caller decides what the digest must be."""
    digest, size = hashlib.sha256(), 0
    try:
        with session.get(url, stream=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise UserError(f"GET {redact(url)}: HTTP {response.status_code} {response.reason}")
            with dest.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(len(chunk))
    except requests.RequestException as e:
        raise UserError(f"GET {redact(url)}: {_reason(e)}") from None
    return Downloaded(dest, size, digest.hexdigest())


def _reason(error: requests.RequestException) -> str:
    """requests nests the cause deep in its message; say it in a few words."""
    text = str(error)
    host = (
        urlsplit(error.request.url).hostname
        if error.request is not None and error.request.url
        else "the host"
    )
    known = {
        "NameResolutionError": f"cannot resolve {host} (no network, or a wrong host?)",
        "Connection refused": f"{host} refused the connection",
        "CERTIFICATE_VERIFY_FAILED": f"TLS certificate of {host} not trusted",
        "Read timed out": f"{host} stopped answering (read timeout)",
        "timed out": f"{host} did not answer in time",
        "too many 5": f"{host} kept failing with server errors",
        "too many 429": f"{host} kept rate-limiting the requests",
    }
    for marker, reason in known.items():
        if marker in text:
            return reason
    return redact(text.splitlines()[0][:200])
