"""The fakes' own hygiene: a stopped fake leaves nothing that answers for another.

Once, a stopped fake Docker engine's thread was still in accept() on its socket's number; the
next socket given that number was a Files server's, so the engine answered its downloads with
"404 No such image" and that server's teardown waited forever on an accept() with nothing left.
"""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

from tests.fakes.engine import FakeEngine
from tests.fakes.files import Files, serve


def test_a_stopped_engine_leaves_no_thread_and_a_later_server_answers_every_request(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    engines = [FakeEngine(tmp_path / f"docker-{n}.sock") for n in range(4)]
    for engine in engines:
        engine.stop()
    assert not any(engine.serving for engine in engines)
    assert set(threading.enumerate()) <= before
    with serve(Files()) as files:
        url = files.add("/release.tar.gz", b"the bytes")
        for _ in range(20):
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert (answer.status, answer.read()) == (200, b"the bytes")
    assert files.requests == ["/release.tar.gz"] * 20
