"""Checksum files and the downloads checked against them.

A release's ``SHA256SUMS`` (``<hex>  <file>`` per line, goreleaser's and HashiCorp's and
Node.js's alike) becomes file name -> digest; a file is kept only when its bytes match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from builder.config.platforms import Platform
from builder.errors import ArtifactName, ChecksumError, Mismatch, UpstreamError
from builder.kinds.release_files import Artifact
from builder.locking.evidence import Evidence
from builder.stores.base import ArtifactRef

if TYPE_CHECKING:
    from builder.sources.base import SourceDeps

_SUM_LINE = re.compile(r"^(?P<hex>[0-9a-fA-F]{64}) [ *](?P<file>\S.*)$")


def parse_sums(text: str, subject: str = "checksum file") -> dict[str, str]:
    """A SHA256SUMS file (``<hex>  <file>`` per line) as file name -> lowercase hex digest."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SUM_LINE.match(line.rstrip())
        if not match:
            raise UpstreamError(f"{subject}:{number}: not a '<sha256>  <file>' line: {line[:80]!r}")
        sums[match["file"]] = match["hex"].lower()
    return sums


def download_verified(
    ctx: SourceDeps,
    ref: tuple[str, str, Platform],
    file: str,
    url: str,
    sums: Mapping[str, str],
    evidence: tuple[Evidence, ...],
) -> Artifact:
    """Download ``file`` of (tool, version, platform), compare with the verified sums, then store it."""
    tool, version, platform = ref
    if file not in sums:
        raise UpstreamError(f"{tool} {version}: {file} is not listed in the signed checksums")
    dest = ctx.work_dir / tool / version / file
    dest.parent.mkdir(parents=True, exist_ok=True)
    got = ctx.download(ArtifactName(tool, version, str(platform), file), url, dest)
    if got.sha256 != sums[file]:
        dest.unlink()
        raise ChecksumError(Mismatch(tool, str(platform), sums[file], got.sha256), f"{file} from {url}")
    artifact = Artifact(file, url, got.sha256, got.size, evidence=evidence)
    if ctx.store is not None:
        ctx.store.put(ArtifactRef(tool, version, platform, artifact), got.path)
    return artifact
