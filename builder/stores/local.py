"""The local store: a content-addressed cache directory, safe for several builds at once.

Files live at ``<root>/sha256/<first two hex>/<hex>``. A file appears there only by an atomic
rename of a complete, verified temporary file in the same folder, so a reader never sees a
partial file and two writers of the same artifact both write the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from builder.errors import ChecksumError, Mismatch, UserError
from builder.fsutil import atomic_write, sha256_file
from builder.stores.base import ArtifactRef


class LocalStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, ref: ArtifactRef) -> bool:
        return self.path_of(ref.sha256).is_file()

    def stored_sha256(self, ref: ArtifactRef) -> str | None:
        # Content-addressed: a name is its digest (bytes changed in place are caught by copy_to).
        return ref.sha256 if self.has(ref) else None

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
        except ChecksumError:
            dest.unlink()
            raise

    def _check_linked(self, ref: ArtifactRef, dest: Path, source: Path) -> None:
        """Hash the file unless it is provably unchanged since it was last hashed.

        The stamp records inode, size, mtime and ctime: any write, rename or chmod changes one
        of them, and ctime cannot be set back, so a matching stamp means the same verified bytes.
        """
        stat = dest.stat()
        stamp = f"{stat.st_ino} {stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}"
        stamp_path = self.root / "verified" / ref.sha256
        if stamp_path.is_file() and stamp_path.read_text() == stamp:
            return
        _check(ref, dest, f"in the local store ({source})")
        if dest.samefile(source):
            atomic_write(stamp_path, stamp.encode())


def _check(ref: ArtifactRef, path: Path, where: str) -> None:
    actual = sha256_file(path)
    if actual != ref.sha256:
        raise ChecksumError(
            Mismatch(ref.tool, str(ref.platform), ref.sha256, actual), f"{ref.artifact.file} {where}"
        )
