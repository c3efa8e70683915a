"""A Docker engine's API on a unix socket, as far as builder asks it: ping and image inspect."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

from tests.fakes.server import UnixServer


class FakeEngine:
    """Answers ``GET /_ping`` and ``GET /images/{name}/json`` for the images in ``images``.

    ``garbage``: answer everything with bytes that are not HTTP (an engine this code must not trust).
    """

    def __init__(self, path: Path, images: dict[str, int] | None = None) -> None:
        self.path = path
        self.images = dict(images or {})
        self.garbage = False
        self.pings = 0
        self.requests: list[str] = []
        self._server = UnixServer(path, self._respond)

    def _respond(self, request: bytes) -> bytes:
        line = request.decode(errors="replace").split("\r\n", 1)[0]
        self.requests.append(line)
        return self._answer(line.split(" ")[1] if " " in line else "")

    def _answer(self, path: str) -> bytes:
        if self.garbage:
            return b"\x00\x01 not http"
        if path == "/_ping":
            self.pings += 1
            return _http(200, b"OK")
        name = unquote(path.removeprefix("/images/").removesuffix("/json"))
        if path.startswith("/images/") and name in self.images:
            document = {"Id": "sha256:" + "a" * 64, "RepoTags": [name], "Size": self.images[name]}
            return _http(200, json.dumps(document).encode())
        return _http(404, b'{"message":"No such image: ' + name.encode() + b'"}')

    @property
    def serving(self) -> bool:
        return self._server.serving

    def stop(self) -> None:
        self._server.stop()


def _http(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    return f"HTTP/1.0 {status} {reason}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
