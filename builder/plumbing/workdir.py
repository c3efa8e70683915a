"""Scratch folders in the temp folder, and the sweep that removes those a killed run left behind.

A run killed with SIGKILL (an OOM kill, a CI timeout, a Lambda ended mid-invocation) runs no
``finally``: its folders stay, some with downloaded artifacts, one (``builder-secrets-*``) with
tokens in it. Each folder holds an ``.owner`` file its run keeps locked (flock) while it lives;
the kernel drops the lock when the process dies, however it dies. A later run removes every
folder whose lock it can take, and the few without an owner file (made by a builder before
these existed, or caught between mkdtemp and the lock) once they are an hour old.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

_KINDS = ("fetch", "lambda", "lock", "npm", "provenance", "publish", "secrets", "seed", "update", "uv")
_OWNER = ".owner"
_UNOWNED_AGE = 3600.0  # seconds


@contextlib.contextmanager
def scratch(kind: str, parent: Path | None = None) -> Iterator[Path]:
    """A private (0700) folder ``builder-<kind>-*`` that lives as long as the block, or the process."""
    assert kind in _KINDS, kind
    folder = Path(tempfile.mkdtemp(prefix=f"builder-{kind}-", dir=parent))
    try:
        with (folder / _OWNER).open("w") as owner:
            fcntl.flock(owner, fcntl.LOCK_EX)
            owner.write(f"{os.getpid()}\n")
            owner.flush()
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(parent: Path | None = None, clock: Callable[[], float] = time.time) -> list[Path]:
    """Remove the scratch folders of runs that are gone; the folders removed."""
    root = Path(parent or tempfile.gettempdir())
    removed = []
    try:
        candidates = [p for p in root.iterdir() if _is_scratch(p)]
    except OSError:
        return []
    for folder in candidates:
        if _abandoned(folder, clock):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _is_scratch(path: Path) -> bool:
    name = path.name
    if not any(name.startswith(f"builder-{kind}-") for kind in _KINDS):
        return False
    try:
        info = path.lstat()
    except OSError:
        return False
    # Only real folders of this user: never follow a link, never touch another user's run.
    return path.is_dir() and not path.is_symlink() and info.st_uid == os.getuid()


def _abandoned(folder: Path, clock: Callable[[], float]) -> bool:
    try:
        handle = (folder / _OWNER).open("r")
    except FileNotFoundError:
        return _age(folder, clock) > _UNOWNED_AGE
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its run is alive
        return True


def _age(folder: Path, clock: Callable[[], float]) -> float:
    try:
        return clock() - folder.stat().st_mtime
    except OSError:
        return 0.0
