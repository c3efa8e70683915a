"""The local store: a content-addressed cache directory, safe for several builds at once.

Files live at ``<root>/sha256/<first two hex>/<hex>``. A file appears there only by an atomic
rename of a complete, verified temporary file in the same folder, so a reader never sees a
partial file and two writers of the same artifact both write the same bytes.

A name is not proof of content: a disk error or a hand can change the bytes under it. Each
file's stamp (inode, size, mtime, ctime) is recorded when its bytes are hashed, and a file is
"in the store" only while its stamp still matches or its bytes hash right again. A file whose
bytes are wrong is moved aside to ``<root>/corrupt/`` and counts as absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from builder.errors import ChecksumError, Mismatch, UserError
from builder.plumbing.fsutil import atomic_write, sha256_file
from builder.stores.base import ArtifactRef


def _to_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class LocalStore:
    name = "local"

    def __init__(self, root: Path, warn: Callable[[str], None] = _to_stderr) -> None:
        self.root, self.warn = root, warn

    def path_of(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, ref: ArtifactRef) -> bool:
        """Present with the right bytes: proven by an unchanged stamp, else by hashing again."""
        path = self.path_of(ref.sha256)
        if not path.is_file():
            return False
        if self._stamp_matches(ref.sha256, path):
            return True
        return self.stored_sha256(ref) == ref.sha256

    def stored_sha256(self, ref: ArtifactRef) -> str | None:
        """The digest of the bytes under the artifact's name, hashed now (``store verify``)."""
        path = self.path_of(ref.sha256)
        if not path.is_file():
            return None
        actual = sha256_file(path)
        if actual == ref.sha256:
            self._stamp(ref.sha256, path)
        else:
            self._move_aside(ref, path, actual)
        return actual

    def _move_aside(self, ref: ArtifactRef, path: Path, actual: str) -> None:
        aside = self.root / "corrupt" / f"{ref.sha256}.sha256-{actual[:12]}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        path.replace(aside)
        (self.root / "verified" / ref.sha256).unlink(missing_ok=True)
        self.warn(
            f"{ref} in the local store is corrupt (its bytes hash to {actual}, not {ref.sha256}): "
            f"moved aside to {aside}; `builder fetch` downloads it again"
        )

    def _stamp_matches(self, sha256: str, path: Path) -> bool:
        stamp_path = self.root / "verified" / sha256
        return stamp_path.is_file() and stamp_path.read_text() == _stamp_of(path)

    def _stamp(self, sha256: str, path: Path) -> None:
        atomic_write(self.root / "verified" / sha256, _stamp_of(path).encode())

    def put(self, ref: ArtifactRef, verified: Path) -> None:
        target = self.path_of(ref.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(fd)
        try:
            shutil.copyfile(verified, tmp)
            _check(ref, Path(tmp), "on its way into the local store")
            Path(tmp).chmod(0o444)
            Path(tmp).replace(target)
            self._stamp(ref.sha256, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()

    def finish(self, tool: str, version: str) -> bool:
        """Nothing to seal: files are complete once they are in."""
        return False

    def copy_to(self, ref: ArtifactRef, dest: Path) -> None:
        """A hard link where possible: same inode and mtime on every build, so BuildKit's
        context transfer recognises an unchanged file without reading it again."""
        source = self.path_of(ref.sha256)
        if not source.is_file():
            raise UserError(f"{ref} is not in the local store ({self.root}): run `builder fetch`")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not (dest.exists() and dest.samefile(source)):
            tmp = dest.with_name(f".incoming-{dest.name}")
            tmp.unlink(missing_ok=True)
            try:
                os.link(source, tmp)
            except OSError:  # another filesystem: copy instead
                shutil.copyfile(source, tmp)
            tmp.replace(dest)
        try:
            self._check_linked(ref, dest, source)
        except ChecksumError as e:
            linked = dest.samefile(source)
            dest.unlink()
            if linked:
                self._move_aside(ref, source, e.mismatch.actual)
            raise

    def _check_linked(self, ref: ArtifactRef, dest: Path, source: Path) -> None:
        """Hash the file unless it is provably unchanged since it was last hashed.

        The stamp records inode, size, mtime and ctime: any write, rename or chmod changes one
        of them, and ctime cannot be set back, so a matching stamp means the same verified bytes.
        """
        if dest.samefile(source) and self._stamp_matches(ref.sha256, source):
            return
        _check(ref, dest, f"in the local store ({source})")
        if dest.samefile(source):
            self._stamp(ref.sha256, source)


def _stamp_of(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_ino} {stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}"


def _check(ref: ArtifactRef, path: Path, where: str) -> None:
    actual = sha256_file(path)
    if actual != ref.sha256:
        raise ChecksumError(
            Mismatch(ref.tool, str(ref.platform), ref.sha256, actual), f"{ref.artifact.file} {where}"
        )
