"""The one HTTP session factory: timeouts, retries with backoff and jitter; no credential in a message."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from builder.errors import UpstreamError
from builder.fsutil import CHUNK, atomic_write
from builder.redact import redact

TIMEOUT = (10.0, 120.0)  # connect, read (between bytes)

Progress = Callable[[int], None]


def make_session(retries: int = 4, backoff: float = 0.5, user_agent: str = "builder") -> requests.Session:
    """A session that retries connection errors and 5xx with exponential backoff and jitter.

    Rate limits (403/429) are not retried here but in HttpClient, which can bound the wait and
    be given a clock: urllib3 would sleep a Retry-After of an hour without asking.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=False,
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
                raise UpstreamError(f"GET {redact(url)}: HTTP {response.status_code} {response.reason}")
            with dest.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(len(chunk))
    except requests.RequestException as e:
        raise UpstreamError(f"GET {redact(url)}: {_reason(e)}") from None
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


class HttpClient:
    """What sources use: JSON with ETag revalidation, small files, streamed downloads.

    Rate limits are honoured (``Retry-After``; ``x-ratelimit-remaining: 0`` until
    ``x-ratelimit-reset``) up to ``max_wait`` seconds; concurrency is bounded; the optional
    GitHub token goes only to the hosts it is meant for; no message carries a credential.
    """

    def __init__(
        self,
        session: requests.Session,
        cache_dir: Path | None = None,
        token: str | None = None,
        token_hosts: tuple[str, ...] = (),
        concurrency: int = 8,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session, self.cache_dir, self.token, self.token_hosts = session, cache_dir, token, token_hosts
        self.max_wait, self.sleep, self.clock = max_wait, sleep, clock
        self._slots = threading.BoundedSemaphore(concurrency)
        self._count = threading.Lock()
        self.bytes_downloaded = 0
        self.requests = 0

    def get_json(self, url: str, headers: Mapping[str, str] | None = None, conditional: bool = True) -> Any:
        try:
            return json.loads(self.get_text(url, headers, conditional))
        except json.JSONDecodeError as e:
            raise UpstreamError(f"GET {redact(url)}: the answer is not JSON ({e.msg})") from None

    def get_text(self, url: str, headers: Mapping[str, str] | None = None, conditional: bool = True) -> str:
        cached = self._cached(url) if conditional else None
        extra = dict(headers or {})
        if cached:
            extra["If-None-Match"] = cached["etag"]
        response = self._get(url, extra)
        if response.status_code == 304 and cached:
            return str(cached["body"])
        self._check(url, response)
        if conditional and response.headers.get("ETag") and self.cache_dir:
            body = json.dumps({"etag": response.headers["ETag"], "body": response.text})
            atomic_write(self._cache_path(url), body.encode())
        return response.text

    def get_bytes(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        response = self._get(url, dict(headers or {}))
        self._check(url, response)
        return response.content

    def download(self, url: str, dest: Path) -> Downloaded:
        with self._slots:
            got = download(self.session, url, dest)
        with self._count:
            self.bytes_downloaded += got.size
        return got

    def _get(self, url: str, headers: dict[str, str]) -> requests.Response:
        if self.token and urlsplit(url).hostname in self.token_hosts:
            headers["Authorization"] = f"Bearer {self.token}"
        for _ in range(4):
            with self._slots:
                try:
                    response = self.session.get(url, headers=headers, timeout=TIMEOUT)
                except requests.RequestException as e:
                    raise UpstreamError(f"GET {redact(url)}: {_reason(e)}") from None
            with self._count:
                self.requests += 1
            wait = self._rate_limit_wait(response)
            if wait is None:
                return response
            if wait > self.max_wait:
                raise UpstreamError(
                    f"GET {redact(url)}: rate limited for {wait:.0f} s more (over the {self.max_wait:.0f} s "
                    "this run waits); set GITHUB_TOKEN for a higher limit, or run later"
                )
            self.sleep(wait)
        raise UpstreamError(f"GET {redact(url)}: still rate limited after waiting; run later")

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        if response.status_code not in (403, 429):
            return None
        retry_after = response.headers.get("Retry-After")
        if retry_after and retry_after.isdigit():
            return float(retry_after)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = float(response.headers.get("x-ratelimit-reset", "0") or 0)
            return max(0.0, reset - self.clock()) + 1
        return 60.0 if response.status_code == 429 else None

    def _check(self, url: str, response: requests.Response) -> None:
        if response.status_code != 200:
            raise UpstreamError(f"GET {redact(url)}: HTTP {response.status_code} {response.reason}")

    def _cache_path(self, url: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()}.json"

    def _cached(self, url: str) -> dict[str, str] | None:
        if not self.cache_dir or not self._cache_path(url).is_file():
            return None
        try:
            data = json.loads(self._cache_path(url).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) and "etag" in data else None
