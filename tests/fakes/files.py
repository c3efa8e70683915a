"""A static file server on 127.0.0.1 that can be told to fail: an upstream's release downloads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.server import StateServer, running


@dataclass
class Files:
    routes: dict[str, bytes] = field(default_factory=dict)  # path -> bytes
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def add(self, path: str, data: bytes) -> str:
        self.routes[path] = data
        return self.url + path

    def answer(self, path: str) -> tuple[int, bytes]:
        self.requests.append(path)
        pending = self.failures.get(path)
        if pending:
            return pending.pop(0), b"injected failure\n"
        if path in self.routes:
            return 200, self.routes[path]
        return 404, b"not found\n"


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, body = self.server.state.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve(files: Files) -> Iterator[Files]:
    with running(_Handler, files) as url:
        files.url = url
        yield files
