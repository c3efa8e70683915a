"""The Sigstore trusted root: a file pinned in the package, replaced only by an explicit refresh.

sigstore-python would otherwise fetch it over TUF on first use; here nothing is fetched silently,
so a lock verifies against the root reviewed in the repository (or one given with
``--trusted-root``). ``fetch_over_tuf`` walks Sigstore's TUF repository (root rotations, then
timestamp, snapshot and targets, each signed by its threshold of keys) from the TUF root pinned
beside the trusted root, and takes the ``trusted_root.json`` target only if its length and hashes
are the signed ones. ``refresh`` writes both pinned files; the change is a diff to review.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sigstore.models import TrustedRoot

from builder.errors import SignatureError
from builder.plumbing.fsutil import atomic_write

_PINNED = "data/keys/sigstore/trusted_root.json"
IN_KEYS = "sigstore/trusted_root.json"  # inside a trusted-keys folder (builder/data/keys by default)
# The TUF root the walk starts from: first copied from the sigstore wheel (public-good instance,
# version 15); each refresh replaces it with the newest root the walk verified.
TUF_ROOT = "sigstore/tuf_root.json"
_TARGET = "trusted_root.json"


@dataclass(frozen=True)
class _FetchedRoot:
    trusted_root: bytes  # the verified target, loadable by sigstore
    tuf_root: bytes  # the newest TUF root the walk reached (the next walk's start)


def _pinned_path() -> Path:
    return Path(str(resources.files("builder").joinpath(_PINNED)))


def load_trusted_root(path: Path | None = None) -> TrustedRoot:
    where = path or _pinned_path()
    try:
        return TrustedRoot.from_file(str(where))
    except (OSError, ValueError) as e:
        raise SignatureError(
            f"{where}: not a usable Sigstore trusted root: {str(e).splitlines()[0]}"
        ) from None


def root_in(keys_dir: Path) -> TrustedRoot:
    """The trusted root of a trusted-keys folder: sources verify against the one their run was given."""
    return load_trusted_root(keys_dir / IN_KEYS)


def fetch_over_tuf(repository: str, keys_dir: Path) -> _FetchedRoot:
    """The trusted root as ``repository`` (a TUF repository's base URL) serves it, verified."""
    from tuf.api.exceptions import DownloadError, RepositoryError
    from tuf.ngclient.updater import Updater

    bootstrap = _read(keys_dir / TUF_ROOT)
    base = repository.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="builder-tuf-") as scratch:
        try:
            updater = Updater(scratch, f"{base}/", scratch, f"{base}/targets/", bootstrap=bootstrap)
            updater.refresh()
            target = updater.get_targetinfo(_TARGET)
            if target is None:
                raise SignatureError(f"the TUF repository {base} lists no {_TARGET}")
            data = Path(updater.download_target(target, str(Path(scratch) / _TARGET))).read_bytes()
            newest = (Path(scratch) / "root.json").read_bytes()
        except (RepositoryError, DownloadError, ValueError) as e:
            raise SignatureError(f"the TUF repository {base} refused: {_one_line(e)}") from None
        probe = Path(scratch) / "probe.json"
        probe.write_bytes(data)
        load_trusted_root(probe)  # refuse anything sigstore cannot verify with
    return _FetchedRoot(data, newest)


def refresh(repository: str, keys_dir: Path) -> list[Path]:
    """Replace the keys folder's trusted root and TUF root with the verified ones; returns those changed."""
    fetched = fetch_over_tuf(repository, keys_dir)
    changed = []
    for name, data in ((TUF_ROOT, fetched.tuf_root), (IN_KEYS, fetched.trusted_root)):
        target = keys_dir / name
        if _read_or_none(target) != data:
            atomic_write(target, data)
            changed.append(target)
    return changed


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SignatureError(f"{path}: cannot read the pinned TUF root ({e.strerror})") from None


def _read_or_none(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


def lambda_cache(env: MutableMapping[str, str] = os.environ) -> None:
    """In a Lambda only /tmp is writable: point sigstore's (platformdirs') cache and data there."""
    env.setdefault("XDG_CACHE_HOME", "/tmp/.cache")  # noqa: S108 - the Lambda's only writable place
    env.setdefault("XDG_DATA_HOME", "/tmp/.local/share")  # noqa: S108
