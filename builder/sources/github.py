"""GitHub releases: versions from tags, artifacts from release assets, verified before they are pinned.

Bytes are trusted only when they match something GitHub or the project published beside them:
the release's checksum file (goreleaser's ``<hex>  <name>`` lines) and/or the asset ``digest``
the API lists (``sha256:<hex>``, computed by GitHub at upload). With neither, nothing is pinned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from builder.config.catalogue import Tool
from builder.config.names import fill
from builder.config.platforms import Platform
from builder.errors import ArtifactName, ChecksumError, ConfigError, Mismatch, SignatureError, UpstreamError
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.checksums import parse_sums
from builder.locking.evidence import AssetDigest, ChecksumFile, Evidence
from builder.locking.lockfile import LockedTool
from builder.plumbing.credentials import Scope
from builder.plumbing.http import HttpStatusError
from builder.plumbing.json_answer import Answer
from builder.plumbing.redact import redact
from builder.sources.base import Release, SourceDeps
from builder.sources.signed import Signatures
from builder.stores.base import ArtifactRef

if TYPE_CHECKING:
    from builder.plumbing.http import Page

_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100  # the most GitHub returns per page
MAX_PAGES = 5  # newest first, so five pages reach back 500 releases
_DEFAULT_TAG = "v{version}"
_DOWNLOADS = "https://github.com"  # where github.com's API says its release assets are
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class _Asset:
    """A release asset as the API lists it, every field checked when the answer is read."""

    name: str
    url: str  # on the API's own host or the configured github_downloads
    size: int | None
    uploaded: bool  # "uploaded", not "open" (still being uploaded)
    sha256: str | None  # the API's digest of the bytes, when it lists a sha256 one


@dataclass(frozen=True)
class _Verified:
    path: Path
    artifact: Artifact


@dataclass(frozen=True)
class _Claim:
    said_in: str  # for a mismatch message: "checksum file x.txt", "asset digest"
    record: Evidence  # what the lock keeps when the bytes match
    sha256: str


@dataclass(frozen=True)
class _Checksums:
    record: ChecksumFile  # its name, URL and the sha256 of its own bytes
    entries: dict[str, str]  # file name -> lowercase sha256
    signed: tuple[Evidence, ...] = ()  # the signatures checked over the file itself


class GitHubSource:
    def __init__(self, ctx: SourceDeps) -> None:
        self.ctx = ctx
        self.api = ctx.url("github_api")
        api = urlsplit(self.api)
        # GitHub Enterprise serves assets on its API's host (outside /api/v3); github.com on another.
        self.homes = (
            Scope.parse(f"{api.scheme}://{api.netloc}"),
            Scope.parse(ctx.base_urls.get("github_downloads", _DOWNLOADS)),
        )

    def releases(self, tool: Tool) -> list[Release]:
        pattern = _tag_pattern(tool)
        found = []
        for item in self._release_items(tool):
            release = _release(item, pattern)
            if release is not None:
                found.append(release)
        return found

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        tag = _tag(tool, release.version)
        repo = tool.text("repository")
        data = self._get(tool, f"/repos/{repo}/releases/tags/{quote(tag, safe='')}", f"release {tag}")
        assets = _assets(Answer(data, f"{tool.name}: GitHub's release {tag} of {repo}"), self.homes)
        signatures = Signatures(self.ctx, tool, release.version)
        checksums = self._checksum_file(tool, release.version, assets, signatures)
        verified = {p: self._verified(tool, release, p, assets, checksums, signatures) for p in platforms}
        for platform, one in verified.items():
            if self.ctx.store is not None:
                self.ctx.store.put(ArtifactRef(tool.name, release.version, platform, one.artifact), one.path)
        return LockedTool(tool.name, release.version, Artifacts({p: v.artifact for p, v in verified.items()}))

    def _release_items(self, tool: Tool) -> list[Answer]:
        """Every release JSON object, following each page's ``Link: rel="next"`` (not page counting)."""
        repo = tool.text("repository")
        items: list[Answer] = []
        url: str | None = f"{self.api}/repos/{repo}/releases?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            page = self._page(tool, url)
            items += Answer(page.data, f"{tool.name}: GitHub's release list for {repo}").items()
            url = page.next_url
        return items

    def _page(self, tool: Tool, url: str) -> Page:
        repo = tool.text("repository")
        if not _under(url, self.api):
            # The releases are the API's: never let an answer steer the client (or a credential) elsewhere.
            raise UpstreamError(
                f"{tool.name}: GitHub's release list for {repo} names its next page at {redact(url)}, "
                f"outside the configured API {self.api}: refusing to follow it"
            )
        try:
            return self.ctx.http.get_page(url, headers=_HEADERS)
        except UpstreamError as e:
            raise UpstreamError(f"{tool.name}: cannot read the releases of {repo} on GitHub: {e}") from None

    def _get(self, tool: Tool, path: str, what: str) -> object:
        repo = tool.text("repository")
        try:
            return self.ctx.http.get_json(self.api + path, headers=_HEADERS)
        except UpstreamError as e:
            raise UpstreamError(f"{tool.name}: cannot read the {what} of {repo} on GitHub: {e}") from None

    def _checksum_file(
        self, tool: Tool, version: str, assets: Mapping[str, _Asset], signatures: Signatures
    ) -> _Checksums | None:
        template = tool.text("checksums")
        if not template:
            if signatures.rule is not None and signatures.rule.kind in ("cosign", "github-attestation"):
                raise ConfigError(
                    tool.where,
                    f"provenance '{signatures.rule.kind}' signs the checksum file: set 'checksums'",
                )
            return None
        name = fill(template, version)
        url = _asset(tool, version, assets, name, "its checksum file").url
        try:
            data = self.ctx.http.get_bytes(url)
        except UpstreamError as e:
            raise UpstreamError(f"{tool.name}: cannot download {name}: {e}") from None
        record = ChecksumFile(name, url, hashlib.sha256(data).hexdigest())
        signed = signatures.over_release_file(
            name, data, self._release_file(assets), self._attestations(tool)
        )
        return _Checksums(record, parse_checksums(data, name), signed)

    def _release_file(self, assets: Mapping[str, _Asset]) -> Callable[[str], bytes | None]:
        def fetch(name: str) -> bytes | None:
            asset = assets.get(name)
            if asset is None or not asset.uploaded:
                return None
            return self.ctx.http.get_bytes(asset.url)

        return fetch

    def _attestations(self, tool: Tool) -> Callable[[str], bytes | None]:
        def get(path: str) -> bytes | None:
            # GET /repos/{owner}/{repo}/attestations/sha256:<hex>; a 404 is "none published"
            url = f"{self.api}/repos/{tool.text('repository')}/{path}"
            try:
                return self.ctx.http.get_bytes(url, headers=_HEADERS)
            except HttpStatusError as e:
                if e.status == 404:
                    return None
                raise

        return get

    def _verified(
        self,
        tool: Tool,
        release: Release,
        platform: Platform,
        assets: Mapping[str, _Asset],
        checksums: _Checksums | None,
        signatures: Signatures,
    ) -> _Verified:
        name = tool.asset_name(platform, release.version)
        asset = _asset(tool, release.version, assets, name, f"an asset for {platform}")
        claims = _claims(tool, platform, name, asset, checksums)
        folder = self.ctx.work_dir / tool.name / release.version
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / Path(name).name
        artifact = ArtifactName(tool.name, release.version, str(platform), name)
        got = self.ctx.download(artifact, asset.url, dest)
        try:
            for claim in claims:
                _compare(tool, platform, name, claim, got.sha256)
            _compare_size(tool, platform, name, asset.size, got.size)
            signed = signatures.over_asset(name, got.sha256, self._release_file(assets))
        except (ChecksumError, SignatureError):
            dest.unlink(missing_ok=True)  # never leave unverified bytes where they might be used
            raise
        evidence = tuple(claim.record for claim in claims) + (checksums.signed if checksums else ()) + signed
        return _Verified(got.path, Artifact(name, asset.url, got.sha256, got.size, evidence=evidence))


def parse_checksums(data: bytes, subject: str = "checksum file") -> dict[str, str]:
    """``<hex>  <name>`` (text mode) or ``<hex> *<name>`` (binary mode) lines."""
    return parse_sums(data.decode("utf-8", errors="replace"), subject)


def _claims(
    tool: Tool, platform: Platform, name: str, asset: _Asset, checksums: _Checksums | None
) -> list[_Claim]:
    """What the bytes must hash to, by who says so; at least one claim or nothing is pinned."""
    claims = []
    if checksums is not None:
        sums = checksums.record.file
        if name not in checksums.entries:
            raise UpstreamError(f"{tool.name} ({platform}): {sums} has no entry for {name}")
        claims.append(_Claim(f"checksum file {sums}", checksums.record, checksums.entries[name]))
    if asset.sha256 is not None:
        claims.append(_Claim("asset digest", AssetDigest("github"), asset.sha256))
    if not claims:
        raise UpstreamError(
            f"{tool.name} ({platform}): nothing to verify against for {name}: the release lists no "
            "asset digest and the catalogue names no checksum file (set 'checksums')"
        )
    return claims


def _compare(tool: Tool, platform: Platform, name: str, claim: _Claim, actual: str) -> None:
    if claim.sha256 != actual:
        mismatch = Mismatch(tool.name, str(platform), claim.sha256, actual)
        raise ChecksumError(mismatch, f"{name} (per the {claim.said_in})")


def _compare_size(tool: Tool, platform: Platform, name: str, listed: int | None, actual: int) -> None:
    if listed is not None and listed != actual:
        raise ChecksumError(
            Mismatch(tool.name, str(platform), f"{listed} bytes", f"{actual} bytes"),
            f"{name} (size the GitHub API lists)",
        )


def _assets(release: Answer, homes: Sequence[Scope]) -> dict[str, _Asset]:
    assets = (_asset_of(item, homes) for item in release["assets"].items())
    return {asset.name: asset for asset in assets}


def _asset_of(item: Answer, homes: Sequence[Scope]) -> _Asset:
    digest = item["digest"].optional_text()
    if digest is not None and digest.startswith("sha256:") and not _DIGEST.fullmatch(digest.lower()):
        raise item["digest"].error("sha256:<64 hex digits>")
    return _Asset(
        name=item["name"].text(),
        url=item["browser_download_url"].url(*homes),
        size=item["size"].optional_integer(),
        uploaded=(item["state"].optional_text() or "uploaded") == "uploaded",
        sha256=digest.lower().removeprefix("sha256:") if digest and digest.startswith("sha256:") else None,
    )


def _asset(tool: Tool, version: str, assets: Mapping[str, _Asset], name: str, what: str) -> _Asset:
    tag, repo = _tag(tool, version), tool.text("repository")
    asset = assets.get(name)
    if asset is None:
        present = ", ".join(sorted(assets)) or "none"
        raise UpstreamError(
            f"{tool.name}: release {tag} of {repo} has no {name} ({what}); assets present: {present}"
        )
    if not asset.uploaded:
        raise UpstreamError(f"{tool.name}: {name} in release {tag} of {repo} is not fully uploaded yet")
    return asset


def _under(url: str, base: str) -> bool:
    """Same scheme, host and port as ``base``, and a path inside its path (GitHub Enterprise: /api/v3)."""
    try:
        return Scope.parse(base).covers(url)
    except ValueError:
        return False


def _tag(tool: Tool, version: str) -> str:
    return fill(tool.text("tag", _DEFAULT_TAG), version)


def _tag_pattern(tool: Tool) -> re.Pattern[str]:
    """``v{version}`` -> a pattern whose group 1 is the version (it must start with a digit)."""
    template = tool.text("tag", _DEFAULT_TAG)
    prefix, found, suffix = template.partition("{version}")
    if not found:
        raise ConfigError(tool.where, f"tag template '{template}' does not contain {{version}}")
    return re.compile(f"^{re.escape(prefix)}([0-9][^\\s/]*){re.escape(suffix)}$")


def _release(item: Answer, pattern: re.Pattern[str]) -> Release | None:
    match = pattern.match(item["tag_name"].text())
    if item["draft"].flag() or not match:
        return None
    notes = item["html_url"]
    return Release(
        version=match.group(1),
        published=_published(item["published_at"].optional_text()),
        prerelease=item["prerelease"].flag(),
        notes_url="" if notes.absent else notes.link(),
    )


def _published(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
