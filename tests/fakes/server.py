"""Start a fake's HTTP handler on 127.0.0.1 in a thread, with the fake's state on the server."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# No exchange with a fake takes this long; a handler waiting longer on a client that went away
# gives up instead of holding its thread, and the test's teardown, forever.
HANDLER_TIMEOUT = 60.0


class StateServer(ThreadingHTTPServer):
    state: Any
    # Stopping the server does not wait for handlers still talking to a client: a client that
    # abandoned a response (a failed test keeps it referenced) must not hang the teardown.
    block_on_close = False

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.settimeout(HANDLER_TIMEOUT)
        return connection, address


@contextmanager
def running(handler: type[BaseHTTPRequestHandler], state: Any) -> Iterator[str]:
    """Serve until the block ends; yields the base URL (http://127.0.0.1:PORT)."""
    server = StateServer(("127.0.0.1", 0), handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Respond(socketserver.BaseRequestHandler):
    server: _Unix

    def handle(self) -> None:
        self.request.sendall(self.server.respond(self.request.recv(4096)))


class _Unix(socketserver.UnixStreamServer):
    respond: Callable[[bytes], bytes]


class UnixServer:
    """A Unix socket that answers each connection's first read with ``respond(bytes)``, in a thread.

    Stopping ends the thread before the socket is closed. A thread still blocked in accept() on a
    closed socket's number accepts for whatever socket gets that number next: once a fake engine
    did, and answered a Files server's downloads with its 404 and left that server's own accept
    blocked, so its teardown never ended.
    """

    def __init__(self, path: Path, respond: Callable[[bytes], bytes]) -> None:
        self.path = path
        self._server = _Unix(str(path), _Respond)
        self._server.respond = respond
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def serving(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()  # returns once serve_forever has: nothing accepts any more
        self._thread.join()
        self._server.server_close()
        self.path.unlink(missing_ok=True)
