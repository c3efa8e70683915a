"""The one HTTP layer: scoped credentials, bounded time, retries with backoff; no credential in a message."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from builder.errors import IncompleteAnswer, UpstreamError
from builder.plumbing.addresses import forbidden
from builder.plumbing.credentials import Credential, headers_for, same_origin
from builder.plumbing.fsutil import CHUNK, atomic_write
from builder.plumbing.limits import HttpSettings
from builder.plumbing.redact import redact

Progress = Callable[[int], None]
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5


def make_session(retries: int = 0, backoff: float = 0.5, user_agent: str = "builder") -> requests.Session:
    """A pooled session; ``retries`` of connection errors and 5xx, with backoff, for GET and HEAD.

    HttpClient retries by itself, within its deadlines and with a clock it is given, so it wants
    a session that does not (the default). Rate limits (403/429) are never retried here: urllib3
    would sleep a Retry-After of an hour without asking.
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

    def __init__(self, url: str, status: int, reason: str, method: str = "GET") -> None:
        super().__init__(f"{method} {redact(url)}: HTTP {status} {reason}")
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


@dataclass(frozen=True)
class _Head:
    """What an attempt answered; its body went to the sink (only a 200's body is read)."""

    status: int
    reason: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Deadline:
    """When a request must be done, and which builder.yaml setting said so."""

    at: float
    setting: str
    seconds: float

    def error(self, url: str) -> UpstreamError:
        return UpstreamError(
            f"GET {redact(url)}: not done within {self.seconds:g} s (http.{self.setting} in builder.yaml)"
        )


class _Transient(Exception):
    """A failure worth another attempt; ``error`` says it, given how many attempts were made."""

    def __init__(self, error: Callable[[int], UpstreamError]) -> None:
        super().__init__()
        self.error = error


class _Sink(Protocol):
    def start(self) -> None:
        """A body begins: a retry starts again from its first byte."""

    def write(self, chunk: bytes) -> None: ...


# An upstream decides how much it sends: a JSON answer (or a gzip bomb that inflates to one) is
# held in memory, a download lands on disk, and neither may grow without bound.
_MAX_ANSWER = 64 << 20
_MAX_DOWNLOAD = 4 << 30


class _Memory:
    def __init__(self, url: str) -> None:
        self.url, self.data = url, bytearray()

    def start(self) -> None:
        self.data.clear()

    def write(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > _MAX_ANSWER:
            raise UpstreamError(
                f"GET {redact(self.url)}: the answer is over {_MAX_ANSWER >> 20} MiB: refused"
            )


class _File:
    """Streams a body into ``dest``, hashing as it goes."""

    def __init__(self, dest: Path, progress: Progress | None) -> None:
        self.dest, self.progress = dest, progress
        self.out: IO[bytes] | None = None
        self.digest, self.size = hashlib.sha256(), 0

    def start(self) -> None:
        self.close()
        self.out = self.dest.open("wb")
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, chunk: bytes) -> None:
        assert self.out is not None
        self.out.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.size > _MAX_DOWNLOAD:
            raise UpstreamError(f"{self.dest.name}: the download is over {_MAX_DOWNLOAD >> 30} GiB: refused")
        if self.progress:
            self.progress(len(chunk))

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


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
    }
    for marker, reason in known.items():
        if marker in text:
            return reason
    return redact(text.splitlines()[0][:200])


def _tries(attempts: int) -> str:
    return f"; gave up after {attempts} attempts" if attempts > 1 else ""


def _length(response: requests.Response) -> int | None:
    """The body's length as the upstream announced it; None when unknown or content-encoded."""
    length = response.headers.get("Content-Length", "")
    if response.headers.get("Content-Encoding", "identity") != "identity" or not length.isdigit():
        return None
    return int(length)


def _decode(data: bytes, headers: Mapping[str, str]) -> str:
    encoding = requests.utils.get_encoding_from_headers(headers) or "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


class HttpClient:
    """What sources use: JSON with ETag revalidation, small files, streamed downloads.

    Every GET is bounded as a whole: ``limits`` (builder.yaml's ``http:``) give the connect and
    read timeouts, a deadline per request or download that is checked while the body streams
    (a read timeout only bounds the silence between bytes), and one for the whole run (the
    client's life). Transient failures are retried ``limits.retries`` times with backoff and
    jitter, within those deadlines. Redirects are followed here, so each hop gets only the
    ``credentials`` whose scope covers it; a header the caller set is kept on its own origin
    only. Rate limits are honoured (``Retry-After``; ``x-ratelimit-remaining: 0`` until
    ``x-ratelimit-reset``) up to ``max_wait`` seconds; concurrency is bounded; no message
    carries a credential.
    """

    def __init__(
        self,
        session: requests.Session,
        cache_dir: Path | None = None,
        credentials: Iterable[Credential] = (),
        limits: HttpSettings | None = None,
        concurrency: int = 16,  # the session pools 16 per host; a lock asks ~10 tools several things each
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        backoff: float = 0.5,
    ) -> None:
        self.session, self.cache_dir, self.credentials = session, cache_dir, tuple(credentials)
        self.limits = limits or HttpSettings()
        self.max_wait, self.sleep, self.clock, self.timer = max_wait, sleep, clock, timer
        self.backoff = backoff
        self._run = _Deadline(timer() + self.limits.run_timeout, "run_timeout", self.limits.run_timeout)
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
        sink = _Memory(url)
        self._check(url, self._get(url, dict(headers or {}), sink, "request_timeout"))
        return bytes(sink.data)

    def post_json(self, url: str, body: object) -> Any:
        """POST ``body`` as JSON and read a JSON answer (OSV's querybatch: a query, not a download).

        Never cached (a POST has no validator) and not redirected; connection errors and 5xx are
        retried ``limits.retries`` times with backoff, within the request deadline.
        """
        deadline = self._deadline("request_timeout")
        for attempt in range(self.limits.retries + 1):
            if attempt and not self._pause(attempt, deadline):
                break
            response = self._post(url, json.dumps(body).encode(), deadline)
            if response is not None and response.status_code not in _TRANSIENT_STATUSES:
                break
        if response is None:
            raise UpstreamError(f"POST {redact(url)}: no answer{_tries(self.limits.retries + 1)}")
        if response.status_code != 200:
            raise HttpStatusError(url, response.status_code, response.reason, "POST")
        if len(response.content) > _MAX_ANSWER:
            raise UpstreamError(f"POST {redact(url)}: the answer is over {_MAX_ANSWER >> 20} MiB: refused")
        return _json(url, response.text)

    def _post(self, url: str, data: bytes, deadline: _Deadline) -> requests.Response | None:
        if forbidden(url):
            raise UpstreamError(f"POST {redact(url)}: refusing to connect to a link-local address")
        remaining = deadline.at - self.timer()
        if remaining <= 0:
            raise deadline.error(url)
        headers = headers_for(url, {"Content-Type": "application/json"}, self.credentials)
        timeout = (min(self.limits.connect_timeout, remaining), min(self.limits.read_timeout, remaining))
        try:
            with self._slots:
                response = self.session.post(url, data=data, headers=headers, timeout=timeout,
                                             allow_redirects=False)  # fmt: skip
        except (requests.ConnectionError, requests.Timeout):
            return None
        except requests.RequestException as e:
            raise UpstreamError(f"POST {redact(url)}: {_reason(e)}") from None
        with self._count:
            self.requests += 1
        return response

    def download(
        self, url: str, dest: Path, headers: Mapping[str, str] | None = None, progress: Progress | None = None
    ) -> Downloaded:
        """Stream ``url`` into ``dest``, hashing as it goes; the caller decides what the digest must be."""
        sink = _File(dest, progress)
        try:
            head = self._get(url, dict(headers or {}), sink, "download_timeout")
        finally:
            sink.close()
        self._check(url, head)
        with self._count:
            self.bytes_downloaded += sink.size
        return Downloaded(dest, sink.size, sink.digest.hexdigest())

    def _answer(self, url: str, headers: Mapping[str, str] | None, conditional: bool, links: bool) -> _Answer:
        cached = self._cached(url, links) if conditional else None
        extra = dict(headers or {})
        if cached:
            extra["If-None-Match"] = cached.etag
        sink = _Memory(url)
        head = self._get(url, extra, sink, "request_timeout")
        if head.status == 304 and cached:
            return cached.answer  # a 304 need not repeat the Link header: the cache kept it
        self._check(url, head)
        answer = _Answer(_decode(bytes(sink.data), head.headers), head.headers.get("Link", ""))
        if conditional and head.headers.get("ETag") and self.cache_dir:
            entry = {"etag": head.headers["ETag"], "body": answer.text, "link": answer.link}
            atomic_write(self._cache_path(url), json.dumps(entry).encode())
        return answer

    def _get(self, url: str, headers: dict[str, str], sink: _Sink, setting: str) -> _Head:
        """One GET as the caller sees it: retried while transient, waiting out rate limits."""
        for _ in range(4):
            head = self._retried(url, headers, sink, self._deadline(setting))
            wait = self._rate_limit_wait(head)
            if wait is None:
                return head
            if wait > self.max_wait:
                raise UpstreamError(
                    f"GET {redact(url)}: rate limited for {wait:.0f} s more (over the {self.max_wait:.0f} s "
                    "this run waits); set GITHUB_TOKEN for a higher limit, or run later"
                )
            self.sleep(wait)
        raise UpstreamError(f"GET {redact(url)}: still rate limited after waiting; run later")

    def _deadline(self, setting: str) -> _Deadline:
        seconds = float(getattr(self.limits, setting))
        own = _Deadline(self.timer() + seconds, setting, seconds)
        return own if own.at <= self._run.at else self._run

    def _retried(self, url: str, headers: Mapping[str, str], sink: _Sink, deadline: _Deadline) -> _Head:
        """Attempts until one is not transient; the last 5xx is returned, the last failure raised."""
        last: _Head | _Transient | None = None
        attempts = 0
        while attempts <= self.limits.retries and (attempts == 0 or self._pause(attempts, deadline)):
            attempts += 1
            try:
                with self._slots:
                    last = self._attempt(url, headers, sink, deadline)
            except _Transient as failure:
                last = failure
                continue
            if last.status not in _TRANSIENT_STATUSES:
                return last
        if isinstance(last, _Head):
            return last
        assert last is not None
        raise last.error(attempts) from None

    def _pause(self, attempts: int, deadline: _Deadline) -> bool:
        """Back off before another attempt; False when the deadline would pass first."""
        wait = self.backoff * 2 ** (attempts - 1) + random.uniform(0, self.backoff)  # noqa: S311 (jitter)
        if self.timer() + wait >= deadline.at:
            return False
        self.sleep(wait)
        return True

    def _attempt(self, url: str, headers: Mapping[str, str], sink: _Sink, deadline: _Deadline) -> _Head:
        response = self._open(url, headers, deadline)
        with response:
            head = _Head(response.status_code, response.reason, response.headers)
            if head.status == 200:
                self._read(url, response, sink, deadline)
        return head

    def _open(self, url: str, given: Mapping[str, str], deadline: _Deadline) -> requests.Response:
        """Follow redirects: each hop gets the credentials that cover it, the caller's only on its origin."""
        target, extra = url, dict(given)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(url, target, headers_for(target, extra, self.credentials), deadline)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            following = urljoin(target, location)
            if not same_origin(target, following):
                extra = {k: v for k, v in extra.items() if k.lower() != "authorization"}
            target = following
        raise UpstreamError(f"GET {redact(url)}: more than {_MAX_REDIRECTS} redirects")

    def _send(self, url: str, target: str, headers: dict[str, str], deadline: _Deadline) -> requests.Response:
        if forbidden(target):
            raise UpstreamError(
                f"GET {redact(url)}: refusing to connect to {redact(target)}, a link-local address "
                "(where a cloud serves its metadata and credentials)"
            )
        remaining = deadline.at - self.timer()
        if remaining <= 0:
            raise deadline.error(url)
        limits = self.limits
        timeout = (min(limits.connect_timeout, remaining), min(limits.read_timeout, remaining))
        try:
            response = self.session.get(target, headers=headers, timeout=timeout, stream=True,
                                        allow_redirects=False)  # fmt: skip
        except requests.exceptions.SSLError as e:
            raise UpstreamError(f"GET {redact(url)}: {_reason(e)}") from None
        except (requests.ConnectionError, requests.Timeout) as e:
            reason = _reason(e)
            raise _Transient(lambda n: UpstreamError(f"GET {redact(url)}: {reason}{_tries(n)}")) from None
        except requests.RequestException as e:
            raise UpstreamError(f"GET {redact(url)}: {_reason(e)}") from None
        with self._count:
            self.requests += 1
        return response

    def _read(self, url: str, response: requests.Response, sink: _Sink, deadline: _Deadline) -> None:
        """The body, to its announced length and before the deadline (checked as each piece arrives)."""
        # read1 returns what has arrived, so a trickle cannot hide in a half-filled chunk and the
        # bytes of an answer cut short are counted.
        read = getattr(response.raw, "read1", response.raw.read)
        expected, received = _length(response), 0
        sink.start()
        try:
            while chunk := read(CHUNK, decode_content=True):
                sink.write(chunk)
                received += len(chunk)
                if self.timer() > deadline.at:
                    raise deadline.error(url)
        except (ProtocolError, ReadTimeoutError) as e:
            stalled = isinstance(e, ReadTimeoutError)
            raise _Transient(lambda n: IncompleteAnswer(url, received, expected, stalled, n)) from None
        except HTTPError as e:  # undecodable content, TLS trouble mid-answer: not worth another try
            raise UpstreamError(f"GET {redact(url)}: {redact(str(e).splitlines()[0][:200])}") from None
        if expected is not None and received < expected:
            raise _Transient(lambda n: IncompleteAnswer(url, received, expected, False, n))

    def _rate_limit_wait(self, head: _Head) -> float | None:
        if head.status not in (403, 429):
            return None
        retry_after = head.headers.get("Retry-After")
        if retry_after and retry_after.isdigit():
            return float(retry_after)
        if head.headers.get("x-ratelimit-remaining") == "0":
            reset = float(head.headers.get("x-ratelimit-reset", "0") or 0)
            return max(0.0, reset - self.clock()) + 1
        return 60.0 if head.status == 429 else None

    def _check(self, url: str, head: _Head) -> None:
        if head.status != 200:
            raise HttpStatusError(url, head.status, head.reason)

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
