"""HashiCorpSource against a fake releases.hashicorp.com + checkpoint serving real, really signed releases."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.config.catalogue import Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import Settings
from builder.config.versions import Constraint
from builder.errors import ChecksumError, Mismatch, SignatureError, UpstreamError
from builder.kinds.archive import ArchiveInstall
from builder.locking.evidence import ChecksumFile, OpenPGPSignature
from builder.locking.openpgp import spaced
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps
from builder.sources.hashicorp import DEFAULT_KEYS, FINGERPRINT, HashiCorpSource
from builder.stores.local import LocalStore
from tests.fakes.hashicorp import HashiCorpReleases
from tests.fakes.pgp import KeySet, Switchboard

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
BOTH = (AMD64, ARM64)
CURRENT_DATE = 1_760_000_000
TOOL = Tool(
    name="terraform",
    source="hashicorp",
    upstream={"product": "terraform"},
    constraint=Constraint.parse(">=1.0", "semver"),
    install=ArchiveInstall(
        "archive",
        {},
        {AMD64: "terraform_{version}_linux_amd64.zip", ARM64: "terraform_{version}_linux_arm64.zip"},
    ),
    check=VersionCheck(("terraform", "version"), r"v(\S+)"),
    where="tools.yaml:1",
    release_notes="https://github.com/hashicorp/terraform/releases/tag/v{version}",
)
V = "1.15.8"
SUMS = f"/terraform/{V}/terraform_{V}_SHA256SUMS"


@pytest.fixture
def upstream(board: Switchboard, keys: KeySet) -> HashiCorpReleases:
    fake = board.plug(HashiCorpReleases(keys, current=V, current_date=CURRENT_DATE))
    for version in ("1.14.9", "1.16.0-beta1", V):
        fake.publish(version)
    return fake


@pytest.fixture
def ctx(upstream: HashiCorpReleases, keys: KeySet, tmp_path: Path) -> SourceDeps:
    return SourceDeps(
        http=HttpClient(make_session(), cache_dir=tmp_path / "etags", backoff=0.01),
        settings=Settings(),
        base_urls={"hashicorp_releases": upstream.url, "hashicorp_checkpoint": upstream.url + "/"},
        keys_dir=keys.keys_dir,
        work_dir=tmp_path / "work",
        store=LocalStore(tmp_path / "store"),
    )


@pytest.fixture
def source(ctx: SourceDeps, keys: KeySet) -> HashiCorpSource:
    return HashiCorpSource(ctx, fingerprints=[keys.release.fingerprint])


def _stored(ctx: SourceDeps) -> list[Path]:
    assert isinstance(ctx.store, LocalStore)
    return sorted(p for p in ctx.store.root.rglob("*") if p.is_file())


def _zip(upstream: HashiCorpReleases, arch: str) -> bytes:
    return upstream.archives[V][f"terraform_{V}_linux_{arch}.zip"]


def test_releases_marks_prereleases_and_dates_the_current_version(source: HashiCorpSource) -> None:
    found = source.releases(TOOL)
    assert found == [
        Release("1.14.9", None, False, False, "https://github.com/hashicorp/terraform/releases/tag/v1.14.9"),
        Release(V, datetime.fromtimestamp(CURRENT_DATE, UTC), False, False,
                f"https://github.com/hashicorp/terraform/releases/tag/v{V}"),
        Release("1.16.0-beta1", None, True, False,
                "https://github.com/hashicorp/terraform/releases/tag/v1.16.0-beta1"),
    ]  # fmt: skip


def test_checkpoint_date_is_read_under_either_field_name(
    source: HashiCorpSource, upstream: HashiCorpReleases
) -> None:
    upstream.date_field = "current_release"
    (current,) = [r for r in source.releases(TOOL) if r.version == V]
    assert current.published == datetime.fromtimestamp(CURRENT_DATE, UTC)


def test_releases_index_is_revalidated_with_its_etag(
    source: HashiCorpSource, upstream: HashiCorpReleases
) -> None:
    first, second = source.releases(TOOL), source.releases(TOOL)
    assert first == second
    statuses = [status for path, status in upstream.requests if path == "/terraform/index.json"]
    assert statuses == [200, 304]


def test_lock_verifies_the_signed_sums_then_each_archive(
    source: HashiCorpSource, upstream: HashiCorpReleases, ctx: SourceDeps, keys: KeySet
) -> None:
    locked = source.lock(TOOL, Release(V), BOTH)
    fpr = keys.release.fingerprint
    sums, signature = locked.payload.files[AMD64].evidence
    assert isinstance(sums, ChecksumFile) and sums.url == f"{upstream.url}{SUMS}"
    assert (sums.file, sums.sha256) == (
        f"terraform_{V}_SHA256SUMS",
        hashlib.sha256(upstream.body(SUMS) or b"").hexdigest(),
    )
    assert signature == OpenPGPSignature(f"terraform_{V}_SHA256SUMS", fpr.upper())
    assert locked.payload.files[ARM64].evidence == (sums, signature)
    for platform, arch in ((AMD64, "amd64"), (ARM64, "arm64")):
        artifact = locked.payload.files[platform]
        assert artifact.file == f"terraform_{V}_linux_{arch}.zip"
        assert artifact.url == f"{upstream.url}/terraform/{V}/{artifact.file}"
        assert (artifact.sha256, artifact.size) == (hashlib.sha256(_zip(upstream, arch)).hexdigest(),
                                                    len(_zip(upstream, arch)))  # fmt: skip
        assert isinstance(ctx.store, LocalStore)
        assert ctx.store.path_of(artifact.sha256).read_bytes() == _zip(upstream, arch)
    assert upstream.paths()[:3] == [f"/terraform/{V}/index.json", SUMS, f"{SUMS}.{fpr[-8:]}.sig"]


def test_lock_uses_the_plain_signature_when_no_key_id_one_is_listed(
    source: HashiCorpSource, upstream: HashiCorpReleases
) -> None:
    upstream.key_id_signature = False
    source.lock(TOOL, Release(V), (AMD64,))
    assert f"{SUMS}.sig" in upstream.paths()


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("stranger", "signed by key {stranger}, which is not in the keyring"),
        ("flipped", "bad signature (the file was altered, or signed by another key)"),
    ],
)
def test_bad_signature_stops_before_any_archive_is_fetched(
    source: HashiCorpSource, upstream: HashiCorpReleases, ctx: SourceDeps, keys: KeySet,
    signature: str, reason: str,
) -> None:  # fmt: skip
    upstream.signature = signature
    with pytest.raises(SignatureError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    expected = reason.format(stranger=keys.stranger.fingerprint[-16:])
    key_file = keys.keys_dir / "hashicorp.asc"
    assert (
        str(caught.value)
        == f"terraform_{V}_SHA256SUMS: signature does not verify against {key_file}: {expected}"
    )
    assert not any(path.endswith(".zip") for path in upstream.paths())
    assert _stored(ctx) == []


def test_a_keys_folder_of_ones_own_trusts_its_own_keys(ctx: SourceDeps, keys: KeySet) -> None:
    locked = HashiCorpSource(ctx).lock(TOOL, Release(V), BOTH)  # ctx.keys_dir is the test's folder
    signature = locked.payload.files[AMD64].evidence[-1]
    assert signature == OpenPGPSignature(f"terraform_{V}_SHA256SUMS", keys.release.fingerprint.upper())


def test_production_default_accepts_only_hashicorps_key(ctx: SourceDeps, keys: KeySet) -> None:
    with pytest.raises(SignatureError) as caught:
        HashiCorpSource(ctx, fingerprints=[FINGERPRINT]).lock(TOOL, Release(V), BOTH)
    assert str(caught.value) == (
        f"terraform_{V}_SHA256SUMS: signed by {spaced(keys.release.fingerprint)} from "
        f"{keys.keys_dir / 'hashicorp.asc'}, not by the expected key "
        "(C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F)"
    )


def test_archive_disagreeing_with_the_signed_sums_is_refused_and_not_stored(
    source: HashiCorpSource, upstream: HashiCorpReleases, ctx: SourceDeps
) -> None:
    upstream.wrong_bytes = {f"terraform_{V}_linux_arm64.zip"}
    with pytest.raises(ChecksumError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    expected = hashlib.sha256(_zip(upstream, "arm64")).hexdigest()
    actual = hashlib.sha256(_zip(upstream, "arm64") + b"\0tampered").hexdigest()
    assert caught.value.mismatch == Mismatch("terraform", "linux/arm64", expected, actual)
    url = f"{upstream.url}/terraform/{V}/terraform_{V}_linux_arm64.zip"
    assert str(caught.value) == (
        f"sha256 mismatch for terraform (linux/arm64) terraform_{V}_linux_arm64.zip from {url}: "
        f"expected {expected}, got {actual}"
    )
    assert isinstance(ctx.store, LocalStore)
    assert not ctx.store.path_of(actual).exists() and not ctx.store.path_of(expected).exists()


@pytest.mark.parametrize(
    ("path", "status", "times", "reason"),
    [
        ("/terraform/index.json", 500, 5, "HTTP 500 Internal Server Error"),
        ("/v1/check/terraform", 404, 1, "HTTP 404 Not Found"),
    ],
)
def test_index_failures_name_the_url(
    source: HashiCorpSource, upstream: HashiCorpReleases, path: str, status: int, times: int, reason: str
) -> None:
    upstream.fail(path, status, times)
    with pytest.raises(UpstreamError) as caught:
        source.releases(TOOL)
    assert str(caught.value) == f"GET {upstream.url}{path}: {reason}"


@pytest.mark.parametrize(
    ("path", "status", "times", "reason"),
    [
        (SUMS, 404, 1, "HTTP 404 Not Found"),
        (f"/terraform/{V}/terraform_{V}_linux_amd64.zip", 404, 1, "HTTP 404 Not Found"),
        (f"/terraform/{V}/terraform_{V}_linux_arm64.zip", 500, 5, "HTTP 500 Internal Server Error"),
    ],
)
def test_lock_failures_name_the_url(
    source: HashiCorpSource, upstream: HashiCorpReleases, path: str, status: int, times: int, reason: str
) -> None:
    upstream.fail(path, status, times)
    with pytest.raises(UpstreamError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    file = path.rsplit("/", 1)[1]
    arch = file.removesuffix(".zip").rsplit("_", 1)[1]
    named = f"terraform {V} (linux/{arch}): cannot download {file}: " if file.endswith(".zip") else ""
    assert str(caught.value) == f"{named}GET {upstream.url}{path}: {reason}"


def test_a_passing_server_error_is_retried(source: HashiCorpSource, upstream: HashiCorpReleases) -> None:
    upstream.fail(SUMS, 503, times=2)
    assert source.lock(TOOL, Release(V), (AMD64,)).version == V
    assert [status for path, status in upstream.requests if path == SUMS] == [503, 503, 200]


def test_a_platform_without_a_build_is_named(source: HashiCorpSource, upstream: HashiCorpReleases) -> None:
    tool = dataclasses.replace(
        TOOL, install=dataclasses.replace(TOOL.install, assets={AMD64: "terraform_{version}_linux_s390x.zip"})
    )
    with pytest.raises(UpstreamError) as caught:
        source.lock(tool, Release(V), (AMD64,))
    assert str(caught.value) == (
        f"terraform {V}: HashiCorp offers no terraform_{V}_linux_s390x.zip for linux/amd64 "
        f"(builds: terraform_{V}_linux_amd64.zip, terraform_{V}_linux_arm64.zip)"
    )


def test_checkpoint_answer_without_a_version_is_refused(
    source: HashiCorpSource, upstream: HashiCorpReleases
) -> None:
    upstream.current = ""
    with pytest.raises(UpstreamError) as caught:
        source.releases(TOOL)
    assert str(caught.value) == f"GET {upstream.url}/v1/check/terraform: the answer names no current_version"


def test_the_committed_keys_mean_hashicorps_key_only(ctx: SourceDeps) -> None:
    import dataclasses

    source = HashiCorpSource(dataclasses.replace(ctx, keys_dir=DEFAULT_KEYS))
    assert source.fingerprints == (FINGERPRINT,)
