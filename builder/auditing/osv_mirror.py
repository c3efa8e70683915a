"""OSV's archives in and out of the CodeArtifact store (`builder store osv`, `audit --offline`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from builder.auditing.osv import mirror_archives
from builder.auditing.osv_packages import ASSET, NAMESPACE, mirror_version, mirrored_at, package_name
from builder.errors import UserError
from builder.plumbing.http import HttpClient
from builder.stores.codeartifact import CodeArtifactStore

Echo = Callable[..., None]
_STALE = timedelta(days=7)


def publish_archives(
    http: HttpClient,
    base: str,
    ecosystems: Iterable[str],
    store: CodeArtifactStore,
    now: datetime,
    echo: Echo,
) -> str:
    """Download each ecosystem's archive and publish it under one version: the mirror time."""
    wanted = sorted(set(ecosystems))
    packages = {e: package_name(e) for e in wanted}  # refuse a bad name before downloading anything
    version = mirror_version(now)
    with tempfile.TemporaryDirectory(prefix="builder-osv-") as work:
        for path in mirror_archives(http, base, wanted, Path(work)):
            ecosystem = path.parent.name
            digest = store.publish_file(packages[ecosystem], version, path)
            echo(f"{NAMESPACE}/{packages[ecosystem]} {version} ({ecosystem}, sha256 {digest})")
    return version


def fetch_newest(store: CodeArtifactStore, ecosystems: Iterable[str], folder: Path, now: datetime,
                 echo: Echo) -> Path:  # fmt: skip
    """Lay out the newest mirrored archive of each ecosystem as ``folder/<ecosystem>/all.zip``."""
    for ecosystem in sorted(set(ecosystems)):
        package = package_name(ecosystem)
        version = _newest(store, package, ecosystem)
        store.fetch_file(package, version, ASSET, folder / ecosystem / ASSET)
        made = mirrored_at(version)
        echo(f"audit: OSV {ecosystem} from the CodeArtifact mirror {NAMESPACE}/{package} {version}", err=True)
        if made is not None and now - made > _STALE:
            echo(
                f"audit: warning: the {ecosystem} mirror is {(now - made).days} days old; "
                "run `builder store osv` to refresh it",
                err=True,
            )
    return folder


def _newest(store: CodeArtifactStore, package: str, ecosystem: str) -> str:
    mirrored = [v for v, status in store.versions(package) if status == "Published" and mirrored_at(v)]
    if not mirrored:
        raise UserError(
            f"no OSV archive of {ecosystem} in CodeArtifact ({NAMESPACE}/{package}): "
            "run `builder store osv` where there is network"
        )
    return max(mirrored)
