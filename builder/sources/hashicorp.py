"""HashiCorp products from releases.hashicorp.com: a GPG-signed SHA256SUMS per release.

The signature is checked first, against the committed key only; no archive is downloaded before
the checksum list it is compared with is known to come from HashiCorp. The checkpoint API names
the current version and its release date, the only date this upstream publishes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from builder.config import names
from builder.config.catalogue import Tool
from builder.config.names import fill
from builder.config.platforms import Platform
from builder.config.versions import numeric
from builder.errors import UpstreamError
from builder.kinds.release_files import Artifacts
from builder.locking.checksums import download_verified, parse_sums
from builder.locking.evidence import ChecksumFile, OpenPGPSignature
from builder.locking.lockfile import LockedTool
from builder.locking.openpgp import key_fingerprints, verify_detached
from builder.plumbing.credentials import Scope
from builder.plumbing.json_answer import Answer
from builder.sources.base import Release, SourceDeps

_KEY_FILE = "hashicorp.asc"
FINGERPRINT = "C874011F0AB405110D02105534365D9472D7468F"  # HashiCorp Security, FACTS 3
DEFAULT_KEYS = Path(__file__).resolve().parent.parent / "data" / "keys"
_DATE_FIELDS = ("current_release_date", "current_release")  # the field's name is disputed: take either
_JSON = {"Accept": "application/json"}


class HashiCorpSource:
    def __init__(self, ctx: SourceDeps, fingerprints: Collection[str] | None = None) -> None:
        """``fingerprints``: who may sign; by default HashiCorp's key, or, when the keys folder is
        not the committed one (BUILDER_KEYS_DIR), whoever its hashicorp.asc holds."""
        self.ctx = ctx
        if fingerprints is None:
            fingerprints = (FINGERPRINT,) if ctx.keys_dir == DEFAULT_KEYS else self._file_fingerprints()
        self.fingerprints = tuple(f.replace(" ", "").upper() for f in fingerprints)

    def _file_fingerprints(self) -> list[str]:
        return key_fingerprints(self.ctx.keys_dir / "hashicorp.asc", self.ctx.work_dir)

    def releases(self, tool: Tool) -> list[Release]:
        product = tool.text("product")
        url = f"{self.ctx.url('hashicorp_releases')}/{product}/index.json"
        versions = Answer(self.ctx.http.get_json(url, _JSON), f"GET {url}")["versions"].members()
        current, published = self._current(product)
        # "+ent" and other build-metadata versions are other products' builds, not this one's.
        found = [v for v in versions if "+" not in v]
        return [
            Release(
                version=v,
                published=published if v == current else None,
                prerelease="-" in v,
                notes_url=fill(tool.release_notes, v) if tool.release_notes else "",
            )
            for v in sorted(found, key=lambda v: numeric(v.split("-")[0]) or ())
        ]

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        product, version = tool.text("product"), release.version
        base = f"{self.ctx.url('hashicorp_releases')}/{product}/{version}"
        meta = Answer(
            self.ctx.http.get_json(f"{base}/index.json", _JSON, conditional=False), f"GET {base}/index.json"
        )
        sums_name = _file_name(meta["shasums"]) or f"{product}_{version}_SHA256SUMS"
        sums_bytes = self.ctx.http.get_bytes(f"{base}/{sums_name}")
        signature = self.ctx.http.get_bytes(f"{base}/{self._signature_name(meta, sums_name)}")
        keys = [self.ctx.keys_dir / _KEY_FILE]
        signer = verify_detached(sums_bytes, signature, keys, self.ctx.work_dir, self.fingerprints, sums_name)
        sums = parse_sums(sums_bytes.decode("utf-8", errors="replace"), sums_name)
        urls = _build_urls(meta, base)
        evidence = (
            ChecksumFile(sums_name, f"{base}/{sums_name}", _sha256(sums_bytes)),
            OpenPGPSignature(sums_name, signer),
        )
        artifacts = {
            p: download_verified(
                self.ctx, (tool.name, version, p), *_build(urls, tool, p, version), sums, evidence
            )
            for p in platforms
        }
        return LockedTool(tool.name, version, Artifacts(artifacts))

    def _current(self, product: str) -> tuple[str, datetime | None]:
        url = f"{self.ctx.url('hashicorp_checkpoint')}/v1/check/{product}"
        answer = Answer(self.ctx.http.get_json(url, _JSON, conditional=False), f"GET {url}")
        current = answer["current_version"]
        if current.absent or not current.text():
            raise UpstreamError(f"GET {url}: the answer names no current_version")
        return current.text(), _published(answer)

    def _signature_name(self, meta: Answer, sums_name: str) -> str:
        """hc-install's choice: the signature named after a trusted key's ID, else the plain one."""
        listed = meta["shasums_signatures"]
        for name in () if listed.absent else map(_file_name, listed.items()):
            if name and any(name == f"{sums_name}.{f[-8:]}.sig" for f in self.fingerprints):
                return name
        return _file_name(meta["shasums_signature"]) or f"{sums_name}.sig"


def _file_name(value: Answer) -> str | None:
    """A file name the answer gives, None when it gives none: a name, since it goes into a URL."""
    name = value.optional_text()
    if not name:
        return None
    try:
        return names.check("file name", name)
    except ValueError as e:
        raise value.error(f"a file name: {e}") from None


def _published(answer: Answer) -> datetime | None:
    for field in _DATE_FIELDS:
        stamp = answer[field]
        if isinstance(stamp.value, int) and not isinstance(stamp.value, bool) and stamp.value > 0:
            return datetime.fromtimestamp(stamp.value, UTC)
    return None


def _build_urls(meta: Answer, base: str) -> dict[str, str]:
    """File name -> download URL of each build, which must lie in the release's own folder."""
    builds = meta["builds"]
    urls = {}
    for build in () if builds.absent else builds.items():
        name = _file_name(build["filename"])
        if name is None:
            raise build["filename"].error("a file name")
        listed = build["url"]
        urls[name] = f"{base}/{name}" if listed.absent else listed.url(Scope.parse(base))
    return urls


def _build(urls: Mapping[str, str], tool: Tool, platform: Platform, version: str) -> tuple[str, str]:
    file = tool.asset_name(platform, version)
    if file not in urls:
        offered = ", ".join(sorted(urls)) or "none"
        raise UpstreamError(
            f"{tool.name} {version}: HashiCorp offers no {file} for {platform} (builds: {offered})"
        )
    return file, urls[file]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
