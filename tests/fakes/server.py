"""Start a fake's HTTP handler on 127.0.0.1 in a thread, with the fake's state on the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StateServer(ThreadingHTTPServer):
    state: Any


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
