"""Start a fake's HTTP handler on 127.0.0.1 in a thread, with the fake's state on the server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
