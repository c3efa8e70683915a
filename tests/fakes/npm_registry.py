"""An npm registry on 127.0.0.1: packuments (full, or abbreviated when npm asks) and real tarballs.

Publish real .tgz files made with ``make_tarball``; the registry computes each ``dist.integrity``.
It can be told to fail (statuses to answer first, a delay before every answer) and to serve a
tarball whose bytes disagree with the integrity its packument states (``tamper``).

Like a private registry it can demand ``Authorization: Bearer <token>`` (``token``; 401 without
it). ``tarball_url`` lists tarballs under another base URL: ``other_host`` is this same server as
http://localhost:PORT, which demands nothing (a CDN), so a test sees which host got credentials.
Every request is recorded with its host and Authorization header (``seen``). ``leak_token`` makes
error bodies quote the token a request carried, as a careless registry might.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes.server import StateServer, running

ABBREVIATED = "application/vnd.npm.install-v1+json"


def make_tarball(name: str, version: str, dependencies: Mapping[str, str] | None = None) -> bytes:
    """A real npm package: ``package/package.json`` and a ``bin/cli.js`` that prints its version."""
    command = name.rsplit("/", 1)[-1]
    manifest = {"name": name, "version": version, "bin": {command: "bin/cli.js"},
                "dependencies": dict(dependencies or {})}  # fmt: skip
    files = {
        "package/package.json": json.dumps(manifest, indent=2).encode(),
        "package/bin/cli.js": f"#!/usr/bin/env node\nconsole.log('{command} {version}');\n".encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o755, 1_577_836_800
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@dataclass
class Published:
    manifest: dict[str, Any]  # package.json of the version
    tarball: bytes
    integrity: str
    time: str
    deprecated: str | None = None


@dataclass(frozen=True)
class Seen:
    host: str  # the Host header: 127.0.0.1:PORT, or localhost:PORT for ``other_host``
    path: str
    authorization: str | None


@dataclass
class NpmRegistry:
    packages: dict[str, dict[str, Published]] = field(default_factory=dict)  # name -> version -> entry
    served: dict[str, bytes] = field(default_factory=dict)  # tarball path -> bytes actually served
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)
    answered: list[tuple[str, int]] = field(default_factory=list)
    url: str = ""
    token: str | None = None  # demanded on the registry's own host when set
    tarball_url: str = ""  # the base of dist.tarball URLs; "" = ``url``
    leak_token: bool = False  # failure injection: error bodies quote the request's token
    seen: list[Seen] = field(default_factory=list)

    @property
    def other_host(self) -> str:
        """This server under another host name, where no token is demanded."""
        return self.url.replace("127.0.0.1", "localhost")

    def refuses(self, host: str, authorization: str | None) -> bool:
        """A request to the registry's own host without the right bearer token."""
        own = host == urlsplit(self.url).netloc
        return own and self.token is not None and authorization != f"Bearer {self.token}"

    def publish(
        self, tarball: bytes, time: str = "2024-01-01T00:00:00.000Z", deprecated: str | None = None
    ) -> None:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.extractfile("package/package.json")
            assert member is not None
            manifest = json.loads(member.read())
        entry = Published(manifest, tarball, integrity(tarball), time, deprecated)
        self.packages.setdefault(manifest["name"], {})[manifest["version"]] = entry
        self.served[self.tarball_path(manifest["name"], manifest["version"])] = tarball

    def tamper(self, name: str, version: str, data: bytes) -> None:
        """Serve other bytes for this tarball; the packument keeps the original integrity."""
        self.served[self.tarball_path(name, version)] = data

    @staticmethod
    def tarball_path(name: str, version: str) -> str:
        return f"/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"

    def packument(self, name: str, abbreviated: bool) -> bytes | None:
        versions = self.packages.get(name)
        if versions is None:
            return None
        entries = {v: self._version(name, v, p, abbreviated) for v, p in versions.items()}
        stable = [v for v in versions if "-" not in v]
        document: dict[str, Any] = {"name": name, "dist-tags": {"latest": (stable or list(versions))[-1]},
                                    "versions": entries, "modified": max(p.time for p in versions.values())}  # fmt: skip
        if not abbreviated:
            document["time"] = {v: p.time for v, p in versions.items()}
        return json.dumps(document).encode()

    def _version(self, name: str, version: str, published: Published, abbreviated: bool) -> dict[str, Any]:
        base = self.tarball_url or self.url
        dist = {"tarball": base + self.tarball_path(name, version), "integrity": published.integrity}
        keep = ("name", "version", "dependencies", "bin") if abbreviated else tuple(published.manifest)
        entry = {k: published.manifest[k] for k in keep if k in published.manifest}
        entry |= {"dist": dist, "_hasShrinkwrap": False}
        if published.deprecated:
            entry["deprecated"] = published.deprecated
        return entry

    def answer(self, path: str, accept: str, authorization: str | None = None) -> tuple[int, bytes, str]:
        self.requests.append(path)
        if self.delay:
            time.sleep(self.delay)
        pending = self.failures.get(path)
        if pending:
            return pending.pop(0), b'{"error":"injected failure"}', "application/json"
        if "/-/" in path:
            data = self.served.get(unquote(path))
            return (200, data, "application/octet-stream") if data is not None else (404, b"", "text/plain")
        document = self.packument(unquote(path.lstrip("/")), accept.startswith(ABBREVIATED))
        if document is None:
            return 404, self.error_body("Not found", authorization), "application/json"
        return 200, document, "application/json"

    def error_body(self, message: str, authorization: str | None) -> bytes:
        if self.leak_token and authorization:
            message += f" for token {authorization.removeprefix('Bearer ')}"
        return json.dumps({"error": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        registry: NpmRegistry = self.server.state
        host, authorization = self.headers.get("Host", ""), self.headers.get("Authorization")
        registry.seen.append(Seen(host, self.path, authorization))
        if registry.refuses(host, authorization):
            body = registry.error_body("authentication required", authorization)
            status, content_type = 401, "application/json"
        else:
            status, body, content_type = registry.answer(
                self.path, self.headers.get("Accept", ""), authorization
            )
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            status, body = 304, b""
        registry.answered.append((self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="npm"')
        if status in (200, 304):
            self.send_header("ETag", etag)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(registry: NpmRegistry) -> Iterator[NpmRegistry]:
    with running(_Handler, registry) as url:
        registry.url = url
        yield registry
