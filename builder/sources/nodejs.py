"""Node.js from nodejs.org/dist: a SHASUMS256.txt per release, signed by one of the releasers' keys.

The detached ``SHASUMS256.txt.sig`` is checked against every committed key in ``keys/nodejs``
before any archive is downloaded; each archive is then compared with the signed list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from builder.config.catalogue import Tool
from builder.config.names import fill
from builder.config.platforms import Platform
from builder.config.versions import numeric
from builder.kinds.release_files import Artifacts
from builder.locking.checksums import download_verified, parse_sums
from builder.locking.evidence import ChecksumFile, OpenPGPSignature
from builder.locking.lockfile import LockedTool
from builder.locking.openpgp import verify_detached
from builder.plumbing.json_answer import Answer
from builder.sources.base import Release, SourceDeps

_KEY_FOLDER = "nodejs"
_SUMS = "SHASUMS256.txt"


class NodeSource:
    def __init__(self, ctx: SourceDeps, fingerprints: Collection[str] | None = None) -> None:
        """``fingerprints``: the releasers allowed to sign; None lets any committed key sign."""
        self.ctx = ctx
        self.fingerprints = fingerprints

    def releases(self, tool: Tool) -> list[Release]:
        url = f"{self.ctx.url('nodejs')}/dist/index.json"
        index = Answer(self.ctx.http.get_json(url), f"GET {url}")
        found = [_release(entry, tool) for entry in index.items()]
        return sorted(found, key=lambda r: numeric(r.version) or ())

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        version = release.version
        base = f"{self.ctx.url('nodejs')}/dist/v{version}"
        sums_bytes = self.ctx.http.get_bytes(f"{base}/{_SUMS}")
        signature = self.ctx.http.get_bytes(f"{base}/{_SUMS}.sig")
        keys = sorted((self.ctx.keys_dir / _KEY_FOLDER).glob("*.asc"))
        subject = f"node v{version} {_SUMS}"
        signer = verify_detached(sums_bytes, signature, keys, self.ctx.work_dir, self.fingerprints, subject)
        sums = parse_sums(sums_bytes.decode("utf-8", errors="replace"), subject)
        record = ChecksumFile(_SUMS, f"{base}/{_SUMS}", hashlib.sha256(sums_bytes).hexdigest())
        evidence = (record, OpenPGPSignature(_SUMS, signer))
        artifacts = {}
        for platform in platforms:
            file = tool.asset_name(platform, version)
            artifacts[platform] = download_verified(
                self.ctx, (tool.name, version, platform), file, f"{base}/{file}", sums, evidence
            )
        return LockedTool(tool.name, version, Artifacts(artifacts))


def _release(entry: Answer, tool: Tool) -> Release:
    version = entry["version"].text().removeprefix("v")
    date = entry["date"]
    try:
        published = datetime.strptime(date.text(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise date.error("a date (YYYY-MM-DD)") from None
    return Release(
        version=version,
        published=published,
        prerelease="-" in version,
        notes_url=fill(tool.release_notes, version) if tool.release_notes else "",
    )
