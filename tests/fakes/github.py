"""A fake GitHub on 127.0.0.1: the releases API plus asset downloads, told to fail per path.

A failure may be a status, a delay, a redirect, or an answer cut short or stalled after some bytes.

The API answers on ``url`` (http://127.0.0.1:PORT); ``browser_download_url`` points at
``download_url`` (http://localhost:PORT, the same server under another host name), so a test can
tell which host a credential went to. Every request is recorded with its headers (lowercase
names) and the status it got. JSON and downloads carry an ``ETag`` and answer 304 to a matching
``If-None-Match``.

Release lists paginate as GitHub's do: ``per_page`` (default 30, at most 100) and ``page``, with a
``Link`` header naming ``next``/``last`` (and ``first``/``prev`` after page 1). Like GitHub, the
links may name the repository by id (``/repositories/<id>/releases``, with ``links_by_id``), and a
304 carries no Link header, so a client has to remember it. ``link_base`` makes the links point at
another base URL (another host: a test of a client that must refuse to follow). Everything is
also served under ``/api/v3``, as GitHub Enterprise Server does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.server import StateServer, running

TRUE_DIGEST = "true"  # Asset.digest default: GitHub's "sha256:<hex>" of the real bytes


@dataclass
class Asset:
    name: str
    data: bytes
    digest: str | None = TRUE_DIGEST  # None: no digest listed (assets uploaded before June 2025)
    state: str = "uploaded"
    size: int | None = None  # None: the real size

    def listed_digest(self) -> str | None:
        if self.digest == TRUE_DIGEST:
            return "sha256:" + hashlib.sha256(self.data).hexdigest()
        return self.digest


@dataclass
class FakeRelease:
    tag: str
    published_at: str | None = "2025-01-01T00:00:00Z"
    draft: bool = False
    prerelease: bool = False
    assets: list[Asset] = field(default_factory=list)


@dataclass(frozen=True)
class Failure:
    """One injected answer: a status with headers, optionally after a delay; status 0 = answer normally.

    ``cut``: the normal answer, with its full Content-Length, stops after that many body bytes;
    the server then hangs for ``stall`` seconds (a stalled upstream) and closes the connection.
    """

    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: int | None = None
    stall: float = 0.0

    @classmethod
    def retry_after(cls, status: int, seconds: int) -> Failure:
        return cls(status, {"Retry-After": str(seconds)})

    @classmethod
    def rate_limit_exhausted(cls, reset: float) -> Failure:
        headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-used": "60",
                   "x-ratelimit-reset": str(int(reset)), "x-ratelimit-resource": "core"}  # fmt: skip
        return cls(403, headers)

    @classmethod
    def slow(cls, seconds: float) -> Failure:
        return cls(0, {}, seconds)

    @classmethod
    def truncated(cls, sent: int) -> Failure:
        """The connection closes after ``sent`` bytes of the body."""
        return cls(cut=sent)

    @classmethod
    def stalled(cls, sent: int, seconds: float) -> Failure:
        """``sent`` bytes of the body, then silence for ``seconds``."""
        return cls(cut=sent, stall=seconds)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Failure:
        return cls(status, {"Location": location})


@dataclass(frozen=True)
class Recorded:
    path: str  # with the query string
    host: str  # the Host header: 127.0.0.1:PORT or localhost:PORT
    headers: dict[str, str]  # lowercase names
    status: int


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cut: int | None = None  # send only this many body bytes (see Failure)
    stall: float = 0.0


def checksum_file(files: Mapping[str, bytes], binary_mode: bool = False) -> bytes:
    """goreleaser's checksums.txt: ``<hex>  <name>`` lines (``<hex> *<name>`` in binary mode)."""
    sep = " *" if binary_mode else "  "
    return "".join(f"{hashlib.sha256(d).hexdigest()}{sep}{n}\n" for n, d in sorted(files.items())).encode()


@dataclass
class FakeGitHub:
    repos: dict[str, list[FakeRelease]] = field(default_factory=dict)  # "owner/name" -> newest first
    failures: dict[str, list[Failure]] = field(default_factory=dict)  # path (with or without query)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    download_url: str = ""
    link_base: str = ""  # the base URL the Link headers name; "" = ``url``
    links_by_id: bool = False  # Link headers name /repositories/<id>/releases, as GitHub's often do
    # "owner/name sha256:<hex>" -> the attestations answer (tests.fakes.sigstore.attestations_answer)
    attestations: dict[str, dict[str, object]] = field(default_factory=dict)

    def release(
        self,
        repo: str,
        tag: str,
        files: Mapping[str, bytes] | None = None,
        published_at: str | None = "2025-01-01T00:00:00Z",
        draft: bool = False,
        prerelease: bool = False,
    ) -> FakeRelease:
        """Add a release (newest first, as GitHub lists them) with one asset per file."""
        assets = [Asset(name, data) for name, data in (files or {}).items()]
        release = FakeRelease(tag, published_at, draft, prerelease, assets)
        self.repos.setdefault(repo, []).insert(0, release)
        return release

    def asset(self, repo: str, tag: str, name: str) -> Asset:
        """An asset to tamper with: its listed digest, size or state."""
        (release,) = [r for r in self.repos[repo] if r.tag == tag]
        (asset,) = [a for a in release.assets if a.name == name]
        return asset

    def reset(self) -> None:
        """Forget releases, failures and requests: one server can serve many tests."""
        self.repos.clear()
        self.failures.clear()
        self.requests.clear()
        self.attestations.clear()
        self.link_base, self.links_by_id = "", False

    def fail(self, path: str, *failures: Failure) -> None:
        self.failures.setdefault(path, []).extend(failures)

    def api_requests(self, prefix: str = "/repos/") -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def answer(self, target: str, headers: Mapping[str, str]) -> tuple[Answer, float]:
        failure = self._failure(target)
        if failure and failure.status:
            return Answer(failure.status, b'{"message": "injected failure"}', dict(failure.headers)), 0.0
        answer = self._route(target)
        if answer.status == 200:
            etag = '"' + hashlib.sha256(answer.body).hexdigest()[:20] + '"'
            answer.headers["ETag"] = etag
            if headers.get("if-none-match") == etag:
                answer = Answer(304, b"", {"ETag": etag})
        if failure and failure.cut is not None:
            answer = Answer(answer.status, answer.body, answer.headers, failure.cut, failure.stall)
        return answer, failure.delay if failure else 0.0

    def _failure(self, target: str) -> Failure | None:
        pending = self.failures.get(target) or self.failures.get(urlsplit(target).path)
        return pending.pop(0) if pending else None

    def _route(self, target: str) -> Answer:
        split = urlsplit(target)
        parts = [unquote(p) for p in split.path.split("/") if p]
        if parts[:2] == ["api", "v3"]:  # GitHub Enterprise Server serves the same API under /api/v3
            parts = parts[2:]
        if len(parts) == 4 and parts[0] == "repos" and parts[3] == "releases":
            return self._list(f"{parts[1]}/{parts[2]}", parse_qs(split.query))
        if len(parts) == 3 and parts[0] == "repositories" and parts[2] == "releases":
            by_id = {repo_id(repo): repo for repo in self.repos}
            return self._list(by_id.get(parts[1], ""), parse_qs(split.query))
        if len(parts) == 6 and parts[0] == "repos" and parts[3:5] == ["releases", "tags"]:
            return self._by_tag(f"{parts[1]}/{parts[2]}", parts[5])
        if len(parts) == 5 and parts[0] == "repos" and parts[3] == "attestations":
            found = self.attestations.get(f"{parts[1]}/{parts[2]} {parts[4]}")
            return (
                Answer(200, json.dumps(found).encode(), {"Content-Type": "application/json"})
                if found
                else _not_found()
            )
        if len(parts) == 5 and parts[0] == "download":
            return self._download(f"{parts[1]}/{parts[2]}", parts[3], parts[4])
        return _not_found()

    def _list(self, repo: str, query: dict[str, list[str]]) -> Answer:
        if repo not in self.repos:
            return _not_found()
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        releases = self.repos[repo]
        chunk = releases[(page - 1) * per_page : page * per_page]
        headers = {"Content-Type": "application/json"}
        link = self._link(repo, per_page, page, last=max(1, -(-len(releases) // per_page)))
        if link:
            headers["Link"] = link
        return Answer(200, json.dumps([self._json(repo, r) for r in chunk]).encode(), headers)

    def _link(self, repo: str, per_page: int, page: int, last: int) -> str:
        """GitHub's order: prev, next, last, first; none at all when one page holds everything."""
        path = f"/repositories/{repo_id(repo)}/releases" if self.links_by_id else f"/repos/{repo}/releases"
        base = f"{self.link_base or self.url}{path}?per_page={per_page}"
        rels = {"prev": page - 1 if page > 1 else None, "next": page + 1 if page < last else None,
                "last": last if page < last else None, "first": 1 if page > 1 else None}  # fmt: skip
        links = [f'<{base}&page={n}>; rel="{rel}"' for rel, n in rels.items() if n is not None]
        return ", ".join(links)

    def _by_tag(self, repo: str, tag: str) -> Answer:
        for release in self.repos.get(repo, []):
            if release.tag == tag and not release.draft:
                body = json.dumps(self._json(repo, release)).encode()
                return Answer(200, body, {"Content-Type": "application/json"})
        return _not_found()

    def _download(self, repo: str, tag: str, name: str) -> Answer:
        for release in self.repos.get(repo, []):
            for asset in release.assets if release.tag == tag else []:
                if asset.name == name:
                    return Answer(200, asset.data, {"Content-Type": "application/octet-stream"})
        return _not_found()

    def _json(self, repo: str, release: FakeRelease) -> dict[str, object]:
        return {
            "id": abs(hash((repo, release.tag))) % 10**8,
            "tag_name": release.tag,
            "name": release.tag,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "published_at": None if release.draft else release.published_at,
            "html_url": f"https://github.com/{repo}/releases/tag/{release.tag}",
            "assets": [self._asset_json(repo, release.tag, a) for a in release.assets],
        }

    def _asset_json(self, repo: str, tag: str, asset: Asset) -> dict[str, object]:
        return {
            "name": asset.name,
            "size": len(asset.data) if asset.size is None else asset.size,
            "state": asset.state,
            "digest": asset.listed_digest(),
            "content_type": "application/octet-stream",
            "browser_download_url": f"{self.download_url}/download/{repo}/{tag}/{asset.name}",
        }


def repo_id(repo: str) -> str:
    """A stable numeric id per repository, as GitHub gives each one."""
    return str(int(hashlib.sha256(repo.encode()).hexdigest()[:8], 16))


def _not_found() -> Answer:
    body = b'{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}'
    return Answer(404, body, {"Content-Type": "application/json"})


def respond(handler: BaseHTTPRequestHandler, github: FakeGitHub) -> None:
    """Answer one GET as ``github`` (also for another fake that serves this API on its own host)."""
    headers = {k.lower(): v for k, v in handler.headers.items()}
    answer, delay = github.answer(handler.path, headers)
    github.requests.append(Recorded(handler.path, headers.get("host", ""), headers, answer.status))
    time.sleep(delay)
    try:
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        handler.wfile.write(answer.body[: answer.cut])
        if answer.cut is not None:
            handler.wfile.flush()
            time.sleep(answer.stall)
            handler.close_connection = True
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up waiting (a read timeout test)


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        respond(self, self.server.state)


@contextmanager
def serve(github: FakeGitHub) -> Iterator[FakeGitHub]:
    with running(_Handler, github) as url:
        github.url = url
        github.download_url = url.replace("127.0.0.1", "localhost")
        yield github
