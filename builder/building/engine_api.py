"""The engine's own API on its local socket, for the two questions a no-op build asks.

Each docker CLI start costs ~20 ms; asking the engine directly costs ~1 ms. Only a local unix
socket is spoken to (TLS, ssh and contexts stay with the CLI), only with GETs, and any answer
that is not what the API documents makes the caller ask the CLI instead.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from builder.building.engine import HOST_VAR

_DEFAULT_SOCKET = "/var/run/docker.sock"
_TIMEOUT = 5.0
_MAX_ANSWER = 8 << 20  # an image's inspect document is a few KiB; more is not an engine


def local_socket(env: Mapping[str, str]) -> str | None:
    """The engine's unix socket, or None when the engine is reached some other way."""
    if env.get("DOCKER_CONTEXT") or _current_context(env):
        return None
    host = env.get(HOST_VAR, "")
    if not host:
        return _DEFAULT_SOCKET
    return host.removeprefix("unix://") if host.startswith("unix:///") else None


def config_folder(env: Mapping[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path(env.get("HOME", "/")) / ".docker"


def _current_context(env: Mapping[str, str]) -> bool:
    """Whether docker's config names a context other than the default one."""
    try:
        data = json.loads((config_folder(env) / "config.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("currentContext", "default") not in ("", "default")


def pings(socket_path: str) -> bool:
    """Whether the engine answers ``GET /_ping`` (what `docker info` would find out)."""
    answer = _get(socket_path, "/_ping")
    return answer is not None and answer[0] == 200


def image_sizes(socket_path: str, tags: list[str]) -> dict[str, int | None] | None:
    """The tags the engine holds with their images' sizes; None if the engine could not be asked."""
    held: dict[str, int | None] = {}
    for tag in tags:
        answer = _get(socket_path, f"/images/{quote(tag, safe='/:@')}/json")
        if answer is None or answer[0] not in (200, 404):
            return None
        if answer[0] == 200:
            size = _size(answer[1])
            if size is False:
                return None
            held[tag] = size if isinstance(size, int) else None
    return held


def _size(body: bytes) -> int | bool | None:
    """The document's Size, None if it has none, False if it is not an inspect document."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict) or "Id" not in data:
        return False
    size = data.get("Size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def _get(socket_path: str, path: str) -> tuple[int, bytes] | None:
    """(status, body) of an HTTP/1.0 GET on the socket, or None when it does not answer as HTTP."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(_TIMEOUT)
            conn.connect(socket_path)
            conn.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            raw = _read_all(conn)
    except OSError:
        return None
    head, sep, body = raw.partition(b"\r\n\r\n") if raw else (b"", b"", b"")
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if not sep or len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
        return None
    return int(status[1]), body


def _read_all(conn: socket.socket) -> bytes | None:
    chunks, total = [], 0
    while chunk := conn.recv(65536):
        chunks.append(chunk)
        total += len(chunk)
        if total > _MAX_ANSWER:
            return None
    return b"".join(chunks)
