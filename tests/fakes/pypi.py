"""A PEP 503 simple index on 127.0.0.1 serving real wheels, optionally behind basic auth."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.server import StateServer, running


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class SimpleIndex:
    files: dict[str, bytes] = field(default_factory=dict)  # wheel file name -> bytes
    password: str | None = None  # basic auth "aws:<password>" when set
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def add(self, filename: str, data: bytes) -> None:
        self.files[filename] = data

    def page(self, project: str) -> bytes | None:
        links = [
            f'<a href="/files/{name}#sha256={hashlib.sha256(data).hexdigest()}">{name}</a>'
            for name, data in sorted(self.files.items())
            if _normalize(name.split("-")[0]) == _normalize(project)
        ]
        if not links:
            return None
        return ("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n").encode()

    def authorized(self, header: str | None) -> bool:
        if self.password is None:
            return True
        return header == "Basic " + base64.b64encode(f"aws:{self.password}".encode()).decode()

    def body(self, path: str) -> bytes | None:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple":
            return self.page(parts[1])
        if len(parts) == 2 and parts[0] == "files":
            return self.files.get(parts[1])
        return None


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
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.end_headers()
            return
        body = index.body(self.path)
        self.send_response(200 if body is not None else 404)
        is_page = self.path.startswith("/simple/")
        self.send_header("Content-Type", "text/html" if is_page else "application/octet-stream")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if not head:
            self.wfile.write(body or b"")


@contextmanager
def serve(index: SimpleIndex) -> Iterator[SimpleIndex]:
    with running(_Handler, index) as url:
        index.url = f"{url}/simple/"
        yield index
