"""Progress for long work: a live line on a terminal, one line per finished item otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class Progress:
    """Thread-safe: downloads report bytes as they arrive and each item once when it ends."""

    def __init__(self, total_items: int, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total_items = total_items
        self.done_items = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._last_draw = 0.0

    def advance(self, size: int) -> None:
        with self._lock:
            self.bytes += size
            if self.live and time.monotonic() - self._last_draw > 0.1:
                self._draw()

    def item(self, message: str) -> None:
        with self._lock:
            self.done_items += 1
            if self.live:
                self.stream.write("\r\033[K")
            self.stream.write(f"[{self.done_items}/{self.total_items}] {message}\n")
            if self.live:
                self._draw()
            self.stream.flush()

    def _draw(self) -> None:
        self._last_draw = time.monotonic()
        self.stream.write(
            f"\r\033[K{self.done_items}/{self.total_items} done, {human(self.bytes)} downloaded"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
