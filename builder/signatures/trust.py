"""The Sigstore trusted root: a file pinned in the package, replaced only by an explicit refresh.

sigstore-python would otherwise fetch it over TUF on first use; here nothing is fetched silently,
so a lock verifies against the root reviewed in the repository (or one given with
``--trusted-root``). ``refresh`` reads a trusted root from a configured URL, checks that sigstore
can load it and writes it atomically; the bump shows up as a diff to review.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from importlib import resources
from pathlib import Path

from sigstore.models import TrustedRoot

from builder.errors import SignatureError, UpstreamError
from builder.plumbing.fsutil import atomic_write
from builder.plumbing.http import HttpClient

_PINNED = "data/keys/sigstore/trusted_root.json"
_IN_KEYS = "sigstore/trusted_root.json"  # inside a trusted-keys folder (builder/data/keys by default)


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
    return load_trusted_root(keys_dir / _IN_KEYS)


def refresh(http: HttpClient, url: str, dest: Path | None = None) -> Path:
    """Replace the pinned root with the one at ``url`` (a TUF mirror's trusted_root.json)."""
    target = dest or _pinned_path()
    try:
        data = http.get_bytes(url)
    except UpstreamError as e:
        raise UpstreamError(f"cannot read the trusted root at {url}: {e}") from None
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / "trusted_root.json"
        probe.write_bytes(data)
        load_trusted_root(probe)  # refuse anything sigstore cannot verify with
    atomic_write(target, data)
    return target


def lambda_cache(env: MutableMapping[str, str] = os.environ) -> None:
    """In a Lambda only /tmp is writable: point sigstore's (platformdirs') cache and data there."""
    env.setdefault("XDG_CACHE_HOME", "/tmp/.cache")  # noqa: S108 - the Lambda's only writable place
    env.setdefault("XDG_DATA_HOME", "/tmp/.local/share")  # noqa: S108
