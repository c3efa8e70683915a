"""Atomic file writes: a reader sees the old bytes or the new ones, never half of either."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from builder.errors import ConfigError, UserError

CHUNK = 1 << 16


def inside(root: Path, path: Path, display: str) -> Path:
    """``path`` resolved, when it stays inside ``root`` (symlinks followed); ConfigError if not.

    A reviewed change can add a symlink as easily as a file: a template that points at
    /etc/passwd would otherwise be rendered into a committed file.
    """
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ConfigError(display, f"resolves to {resolved}, outside the project: refusing to read it")
    return resolved


def within(root: Path, path: Path) -> Path:
    """``path`` when it resolves inside ``root``: every write of a name from a file goes through this."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UserError(f"refusing to write {path}: it resolves to {resolved}, outside {root}")
    return path


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def write_all(files: Mapping[Path, bytes]) -> list[Path]:
    """Write every file whose bytes differ; return those written.

    Each file is replaced atomically, and nothing is written until every file's bytes are
    ready, so a failed render leaves the previous good output in place.
    """
    changed = [p for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
    for path in changed:
        atomic_write(path, files[path])
    return changed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
