"""A static file server on 127.0.0.1 that can be told to fail: an upstream's release downloads.

A failure is a status to answer first, or (``cuts``) an answer whose connection closes after that
many bytes of a body announced in full: a download cut short. ``paces`` makes a path trickle: its
body goes out in small pieces that many seconds apart, each well within any read timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.server import StateServer, running

PIECE = 64  # bytes per write of a paced body


@dataclass
class Files:
    routes: dict[str, bytes] = field(default_factory=dict)  # path -> bytes
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    cuts: dict[str, list[int]] = field(default_factory=dict)  # path -> bytes sent of the next answers
    paces: dict[str, float] = field(default_factory=dict)  # path -> seconds between pieces of the body
    gzipped: set[str] = field(default_factory=set)  # paths whose stored bytes go out as gzip content
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
        cuts = self.server.state.cuts.get(self.path)
        cut = cuts.pop(0) if cuts and status == 200 else None
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if self.path in self.server.state.gzipped:
            self.send_header("Content-Encoding", "gzip")
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        if cut is not None:
            self.close_connection = True  # never False: an HTTP/1.0 answer ends its connection
        sent, pace = body[:cut], self.server.state.paces.get(self.path)
        size = PIECE if pace else max(1, len(sent))
        try:
            for start in range(0, len(sent), size):
                self.wfile.write(sent[start : start + size])
                if pace:
                    self.wfile.flush()
                    time.sleep(pace)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: a deadline test


@contextmanager
def serve(files: Files) -> Iterator[Files]:
    with running(_Handler, files) as url:
        files.url = url
        yield files
