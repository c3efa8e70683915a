"""A simple index on 127.0.0.1 serving real wheels, optionally behind basic auth.

It answers a project page as PEP 691 JSON when the Accept header asks for it (with yanked files,
upload times and an ETag), as PEP 503 HTML otherwise, and can be told to fail (statuses to answer
first, a delay before every answer) or to speak HTML only, like an older index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.server import StateServer, running

JSON = "application/vnd.pypi.simple.v1+json"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class SimpleIndex:
    files: dict[str, bytes] = field(default_factory=dict)  # wheel file name -> bytes
    password: str | None = None  # basic auth "aws:<password>" when set
    requests: list[str] = field(default_factory=list)
    url: str = ""
    yanked: dict[str, str] = field(default_factory=dict)  # file name -> reason ("" for none given)
    uploaded: dict[str, str] = field(default_factory=dict)  # file name -> ISO 8601 upload time
    html_only: bool = False  # an index that ignores Accept and speaks PEP 503 only
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    delay: float = 0.0  # seconds to wait before every answer
    answered: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every answer
    # file name -> its PEP 740 provenance object, served by the Integrity API
    # (/integrity/<project>/<version>/<file>/provenance); tests.fakes.sigstore.pep740_provenance
    provenance: dict[str, bytes] = field(default_factory=dict)
    # file name -> the provenance link the project page names (PEP 740: JSON `provenance`, HTML
    # `data-provenance`; None serves JSON null); the object itself is also served at /attested/<file>
    provenance_links: dict[str, str | None] = field(default_factory=dict)
    api_version: str = "1.1"  # 1.3 is the first that may carry provenance links

    def add(self, filename: str, data: bytes, yanked: str | None = None, uploaded: str | None = None) -> None:
        self.files[filename] = data
        if yanked is not None:
            self.yanked[filename] = yanked
        if uploaded is not None:
            self.uploaded[filename] = uploaded

    def _project_files(self, project: str) -> list[tuple[str, bytes]]:
        return [
            (name, data)
            for name, data in sorted(self.files.items())
            if _normalize(name.split("-")[0]) == _normalize(project)
        ]

    def page(self, project: str) -> bytes | None:
        links = [
            f'<a href="/files/{name}#sha256={hashlib.sha256(data).hexdigest()}"{self._yank_attr(name)}>{name}</a>'
            for name, data in self._project_files(project)
        ]
        if not links:
            return None
        return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()

    def _yank_attr(self, name: str) -> str:
        yanked = f' data-yanked="{self.yanked[name]}"' if name in self.yanked else ""
        link = self.provenance_links.get(name)
        return yanked + (f' data-provenance="{link}"' if link else "")

    def json_page(self, project: str) -> bytes | None:
        files = [self._json_file(name, data) for name, data in self._project_files(project)]
        if not files:
            return None
        versions = sorted(
            {name.split("-")[1].removesuffix(".tar.gz") for name, _ in self._project_files(project)}
        )
        meta = {"api-version": self.api_version, "_last-serial": len(self.files)}
        return json.dumps(
            {"meta": meta, "name": _normalize(project), "versions": versions, "files": files}
        ).encode()

    def _json_file(self, name: str, data: bytes) -> dict[str, object]:
        entry: dict[str, object] = {"filename": name, "url": f"/files/{name}",
                                    "hashes": {"sha256": hashlib.sha256(data).hexdigest()}, "size": len(data),
                                    "yanked": self.yanked.get(name) or name in self.yanked}  # fmt: skip
        if name in self.uploaded:
            entry["upload-time"] = self.uploaded[name]
        if name in self.provenance_links:
            entry["provenance"] = self.provenance_links[name]
        return entry

    def authorized(self, header: str | None) -> bool:
        if self.password is None:
            return True
        return header == "Basic " + base64.b64encode(f"aws:{self.password}".encode()).decode()

    def body(self, path: str, as_json: bool = False) -> bytes | None:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            return self.json_page(parts[1]) if as_json else self.page(parts[1])
        if len(parts) == 2 and parts[0] == "files":
            return self.files.get(parts[1])
        if len(parts) == 5 and parts[0] == "integrity" and parts[4] == "provenance":
            return self.provenance.get(parts[3])
        if len(parts) == 2 and parts[0] == "attested":
            return self.provenance.get(parts[1])
        return None

    def wants_json(self, accept: str | None) -> bool:
        return not self.html_only and JSON in (accept or "")

    def injected(self, path: str) -> int | None:
        if self.delay:
            time.sleep(self.delay)
        pending = self.failures.get(path)
        return pending.pop(0) if pending else None


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        index: SimpleIndex = self.server.state
        index.requests.append(self.path)
        if not index.authorized(self.headers.get("Authorization")):
            self._send(401, b"", "text/plain", head, {"WWW-Authenticate": 'Basic realm="index"'})
            return
        failure = index.injected(self.path)
        if failure is not None:
            self._send(failure, b"injected failure\n", "text/plain", head)
            return
        as_json = self.path.startswith("/simple/") and index.wants_json(self.headers.get("Accept"))
        body = index.body(self.path, as_json)
        if not self.path.startswith("/simple/") or body is None:
            self._send(200 if body is not None else 404, body or b"", "application/octet-stream", head)
            return
        self._page(body, JSON if as_json else "text/html", head)

    def _page(self, body: bytes, content_type: str, head: bool) -> None:
        etag = '"' + hashlib.sha256(content_type.encode() + body).hexdigest()[:20] + '"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", content_type, head=True, headers={"ETag": etag})
            return
        self._send(200, body, content_type, head, {"ETag": etag, "Vary": "Accept"})

    def _send(
        self, status: int, body: bytes, content_type: str, head: bool, headers: dict[str, str] | None = None
    ) -> None:
        self.server.state.answered.append((self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@contextmanager
def serve(index: SimpleIndex) -> Iterator[SimpleIndex]:
    with running(_Handler, index) as url:
        index.url = f"{url}/simple/"
        yield index
