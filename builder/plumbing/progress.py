"""Progress for long work: a live line on a terminal, one line per finished item otherwise."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


_BAR_MIN = 4 * 2**20  # a download this big gets a bar on a terminal; smaller ones only their line
_BAR_WIDTH = 24


class Download:
    """One download's bytes as they arrive, for the bar and for its finished line's rate."""

    def __init__(self, progress: Progress, total: int | None, clock: Callable[[], float]) -> None:
        self.progress, self.total, self.clock = progress, total, clock
        self.done, self.started = 0, clock()

    def advance(self, size: int) -> None:
        self.done += size
        self.progress.advance(size)

    def rate(self) -> float:
        return self.done / max(self.clock() - self.started, 1e-3)


class Progress:
    """Thread-safe: downloads report bytes as they arrive and each item once when it ends.

    On a terminal one live line is redrawn: a bar with bytes and rate while downloads of more than
    a few MiB run. Elsewhere (a CodeBuild log) only plain lines, one per finished item.
    ``quiet_cached``: items already in the store print nothing (a build's warm fetch is silent).
    """

    def __init__(
        self,
        total_items: int,
        stream: TextIO | None = None,
        live: bool | None = None,
        quiet_cached: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total_items, self.quiet_cached, self.clock = total_items, quiet_cached, clock
        self.done_items = 0
        self.bytes = 0
        self.active: list[Download] = []
        self._lock = threading.Lock()
        self._last_draw = 0.0

    def download(self, total: int | None) -> Download:
        found = Download(self, total, self.clock)
        with self._lock:
            self.active.append(found)
        return found

    def advance(self, size: int) -> None:
        with self._lock:
            self.bytes += size
            if self.live and self.clock() - self._last_draw > 0.1:
                self._draw()

    def item(self, message: str, cached: bool = False, finished: Download | None = None) -> None:
        with self._lock:
            self.done_items += 1
            if finished in self.active:
                self.active.remove(finished)
            if cached and self.quiet_cached:
                return
            if self.live:
                self.stream.write("\r\033[K")
            self.stream.write(f"[{self.done_items}/{self.total_items}] {message}\n")
            if self.live:
                self._draw()
            self.stream.flush()

    def _draw(self) -> None:
        self._last_draw = self.clock()
        self.stream.write(f"\r\033[K{self.status()}")
        self.stream.flush()

    def status(self) -> str:
        """The live line: a bar over the running downloads when they are big enough, else counts."""
        total = sum(d.total or 0 for d in self.active)
        if total < _BAR_MIN:
            return f"{self.done_items}/{self.total_items} done, {human(self.bytes)} downloaded"
        done = min(sum(d.done for d in self.active), total)
        filled = _BAR_WIDTH * done // total
        rate = sum(d.rate() for d in self.active)
        return (
            f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {human(done)} / {human(total)}  "
            f"{human(rate)}/s  ({len(self.active)} running, {self.done_items}/{self.total_items} done)"
        )

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


# BuildKit's plain progress: "#N [stage k/n] instruction", then "#N <output>", "#N CACHED",
# "#N DONE 1.2s" or "#N ERROR: reason"; steps of parallel stages interleave.
_HEADER = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_EXPORT = re.compile(r"^#(\d+) (exporting to image|exporting layers)$")
_STATE = re.compile(r"^#(\d+) (?:(CACHED)|DONE (\d+(?:\.\d+)?)s|ERROR: (.*))$")
_OUTPUT = re.compile(r"^#(\d+) (.*)$")
_PLACE = re.compile(r"^(\S+) (\d+)/(\d+)$")
_UNNAMED = re.compile(r"^stage-\d+$")
_TAIL_LINES = 40


@dataclass(frozen=True)
class StageDone:
    """One stage of one build, finished: every step from cache, or some rebuilt (their seconds)."""

    stage: str
    cached: bool
    seconds: float

    def line(self) -> str:
        return f"{self.stage:<22} {'cached' if self.cached else 'rebuilt':<8} {self.seconds:6.1f} s"


@dataclass(frozen=True)
class FailedStep:
    step: str  # "[tool-hello 2/2] RUN ..."
    stage: str
    reason: str
    tail: tuple[str, ...]  # the step's own last lines, without BuildKit's "#N " prefix


@dataclass
class _Step:
    stage: str | None
    text: str
    last: bool  # the stage's last step: the stage is done when this one is
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))


@dataclass
class _Stage:
    cached: bool = True
    seconds: float = 0.0
    reported: bool = False


class BuildKitLog:
    """Follows one build's plain log: reports each stage as it finishes and keeps each step's tail."""

    def __init__(self, on_stage: Callable[[StageDone], None] = lambda done: None) -> None:
        self.on_stage = on_stage
        self.steps: dict[str, _Step] = {}
        self.stages: dict[str, _Stage] = {}
        self.errors: list[tuple[str, str]] = []  # (step number, reason)

    def feed(self, line: str) -> None:
        if match := _HEADER.match(line) or _EXPORT.match(line):
            self._header(match.group(1), *match.groups()[1:])
        elif match := _STATE.match(line):
            self._state(match.group(1), bool(match.group(2)), match.group(3), match.group(4))
        elif (match := _OUTPUT.match(line)) and match.group(1) in self.steps:
            self.steps[match.group(1)].lines.append(match.group(2))

    def _header(self, number: str, place: str, text: str | None = None) -> None:
        if number in self.steps:
            return  # BuildKit repeats a header when its output resumes after another step's
        found = _PLACE.match(place) if text is not None else None
        if text is None:  # exporting
            self.steps[number] = _Step("export", place, True)
        elif found:
            stage = "final" if _UNNAMED.match(found.group(1)) else found.group(1)
            self.steps[number] = _Step(stage, f"[{place}] {text}", found.group(2) == found.group(3))
        else:
            self.steps[number] = _Step(None, f"[{place}] {text}", False)  # [internal], [auth]

    def _state(self, number: str, cached: bool, seconds: str | None, error: str | None) -> None:
        step = self.steps.get(number)
        if error is not None:
            self.errors.append((number, error))
        if step is None or step.stage is None:
            return
        stage = self.stages.setdefault(step.stage, _Stage())
        if not cached:
            stage.cached = False
            stage.seconds += float(seconds or 0)
        if step.last and error is None and not stage.reported:
            stage.reported = True
            self.on_stage(StageDone(step.stage, stage.cached, stage.seconds))

    def failed(self) -> FailedStep | None:
        """The step BuildKit reported failing last (the one whose error ended the build)."""
        if not self.errors:
            return None
        number, reason = self.errors[-1]
        step = self.steps.get(number) or _Step(None, "the build", False)
        return FailedStep(step.text, step.stage or "", reason, tuple(step.lines))
