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
from urllib.parse import urljoin, urlsplit

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


class HttpStatusError(UpstreamError):
    """An answer other than 200; the status is kept so a caller can explain a 401 or a 404."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"GET {redact(url)}: HTTP {status} {reason}")
        self.status = status


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Page:
    """One page of a paginated JSON list and the page its ``Link`` header names as next."""

    data: Any
    next_url: str | None  # absolute; None on the last page


@dataclass(frozen=True)
class _Answer:
    text: str
    link: str  # the raw Link header, "" when there was none


@dataclass(frozen=True)
class _Cached:
    etag: str
    answer: _Answer


def download(
    session: requests.Session,
    url: str,
    dest: Path,
    progress: Progress | None = None,
    headers: Mapping[str, str] | None = None,
) -> Downloaded:
    """Stream ``url`` into ``dest``, hashing as it goes; the caller decides what the digest must be."""
    digest, size = hashlib.sha256(), 0
    try:
        with session.get(url, stream=True, timeout=TIMEOUT, headers=dict(headers or {})) as response:
            if response.status_code != 200:
                raise HttpStatusError(url, response.status_code, response.reason)
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
        return _json(url, self.get_text(url, headers, conditional))

    def get_text(self, url: str, headers: Mapping[str, str] | None = None, conditional: bool = True) -> str:
        return self._answer(url, headers, conditional, links=False).text

    def get_page(self, url: str, headers: Mapping[str, str] | None = None) -> Page:
        """JSON plus the ``rel="next"`` of its Link header, also when the body comes from the cache."""
        answer = self._answer(url, headers, conditional=True, links=True)
        return Page(_json(url, answer.text), _next_link(url, answer.link))

    def get_bytes(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        response = self._get(url, dict(headers or {}))
        self._check(url, response)
        return response.content

    def download(self, url: str, dest: Path, headers: Mapping[str, str] | None = None) -> Downloaded:
        with self._slots:
            got = download(self.session, url, dest, headers=headers)
        with self._count:
            self.bytes_downloaded += got.size
        return got

    def _answer(self, url: str, headers: Mapping[str, str] | None, conditional: bool, links: bool) -> _Answer:
        cached = self._cached(url, links) if conditional else None
        extra = dict(headers or {})
        if cached:
            extra["If-None-Match"] = cached.etag
        response = self._get(url, extra)
        if response.status_code == 304 and cached:
            return cached.answer  # a 304 need not repeat the Link header: the cache kept it
        self._check(url, response)
        answer = _Answer(response.text, response.headers.get("Link", ""))
        if conditional and response.headers.get("ETag") and self.cache_dir:
            entry = {"etag": response.headers["ETag"], "body": answer.text, "link": answer.link}
            atomic_write(self._cache_path(url), json.dumps(entry).encode())
        return answer

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
            raise HttpStatusError(url, response.status_code, response.reason)

    def _cache_path(self, url: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()}.json"

    def _cached(self, url: str, links: bool) -> _Cached | None:
        """The entry to revalidate; ``links``: only one that kept the Link header.

        Entries written before links were kept have only ``etag`` and ``body``: they still serve
        plain bodies, but a page read from one would lose its next link, so it is fetched afresh.
        """
        if not self.cache_dir or not self._cache_path(url).is_file():
            return None
        try:
            data = json.loads(self._cache_path(url).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or "etag" not in data or (links and "link" not in data):
            return None
        return _Cached(str(data["etag"]), _Answer(str(data.get("body", "")), str(data.get("link", ""))))


def _json(url: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UpstreamError(f"GET {redact(url)}: the answer is not JSON ({e.msg})") from None


def _next_link(url: str, link: str) -> str | None:
    """The ``rel="next"`` target of a Link header (RFC 8288), made absolute against ``url``."""
    for entry in requests.utils.parse_header_links(link):
        if "next" in entry.get("rel", "").split():
            return urljoin(url, entry["url"])
    return None
