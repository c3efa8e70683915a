"""NodeSource against a fake nodejs.org/dist serving real tarballs with a really signed SHASUMS256.txt."""

from __future__ import annotations

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
from builder.sources.nodejs import NodeSource
from builder.stores.local import LocalStore
from tests.fakes.nodejs import NodeDist
from tests.fakes.pgp import KeySet, Switchboard

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
BOTH = (AMD64, ARM64)
TOOL = Tool(
    name="node",
    source="nodejs",
    upstream={},
    constraint=Constraint.parse("^24", "semver"),
    install=ArchiveInstall(
        "archive",
        {},
        {AMD64: "node-v{version}-linux-x64.tar.gz", ARM64: "node-v{version}-linux-arm64.tar.gz"},
        strip_components=1,
    ),
    check=VersionCheck(("node", "--version"), r"^v(\S+)"),
    where="tools.yaml:1",
    release_notes="https://github.com/nodejs/node/releases/tag/v{version}",
)
V = "24.15.0"
DIST = f"/dist/v{V}"


@pytest.fixture
def upstream(board: Switchboard, keys: KeySet) -> NodeDist:
    fake = board.plug(NodeDist(keys))
    fake.publish("24.14.1", "2026-09-30", lts="Krypton")
    fake.publish("25.1.0", "2026-10-20")
    fake.publish(V, "2026-11-10", lts="Krypton")
    return fake


@pytest.fixture
def ctx(upstream: NodeDist, keys: KeySet, tmp_path: Path) -> SourceDeps:
    return SourceDeps(
        http=HttpClient(make_session(), cache_dir=tmp_path / "etags", backoff=0.01),
        settings=Settings(),
        base_urls={"nodejs": upstream.url},
        keys_dir=keys.keys_dir,
        work_dir=tmp_path / "work",
        store=LocalStore(tmp_path / "store"),
    )


@pytest.fixture
def source(ctx: SourceDeps) -> NodeSource:
    return NodeSource(ctx)


def _tarball(upstream: NodeDist, arch: str) -> bytes:
    return upstream.archives[V][f"node-v{V}-linux-{arch}.tar.gz"]


def _release(version: str, day: str) -> Release:
    published = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return Release(
        version, published, False, False, f"https://github.com/nodejs/node/releases/tag/v{version}"
    )


def test_releases_drop_the_v_and_carry_their_date(source: NodeSource) -> None:
    assert source.releases(TOOL) == [
        _release("24.14.1", "2026-09-30"),
        _release(V, "2026-11-10"),
        _release("25.1.0", "2026-10-20"),
    ]


def test_release_index_is_revalidated_with_its_etag(source: NodeSource, upstream: NodeDist) -> None:
    assert source.releases(TOOL) == source.releases(TOOL)
    assert [status for path, status in upstream.requests if path == "/dist/index.json"] == [200, 304]


def test_malformed_release_entry_is_named(source: NodeSource, upstream: NodeDist) -> None:
    upstream.releases.append({"version": "v1.0.0"})
    with pytest.raises(UpstreamError) as caught:
        source.releases(TOOL)
    assert str(caught.value) == (
        f"GET {upstream.url}/dist/index.json: '[3].date' is missing, expected a string"
    )


def test_lock_verifies_the_signed_sums_then_each_tarball(
    source: NodeSource, upstream: NodeDist, ctx: SourceDeps, keys: KeySet
) -> None:
    locked = source.lock(TOOL, Release(V), BOTH)
    for artifact in locked.payload.files.values():
        sums, signature = artifact.evidence
        assert isinstance(sums, ChecksumFile) and sums.url == f"{upstream.url}/dist/v{V}/SHASUMS256.txt"
        assert signature == OpenPGPSignature("SHASUMS256.txt", keys.release.fingerprint.upper())
    assert isinstance(ctx.store, LocalStore)
    for platform, arch in ((AMD64, "x64"), (ARM64, "arm64")):
        artifact = locked.payload.files[platform]
        data = _tarball(upstream, arch)
        assert artifact.file == f"node-v{V}-linux-{arch}.tar.gz"
        assert artifact.url == f"{upstream.url}{DIST}/{artifact.file}"
        assert (artifact.sha256, artifact.size) == (hashlib.sha256(data).hexdigest(), len(data))
        assert ctx.store.path_of(artifact.sha256).read_bytes() == data
    assert upstream.paths()[:2] == [f"{DIST}/SHASUMS256.txt", f"{DIST}/SHASUMS256.txt.sig"]


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("stranger", "signed by key {stranger}, which is not in the keyring"),
        ("garbage", "no signature found"),
    ],
)
def test_bad_signature_stops_before_any_tarball_is_fetched(
    source: NodeSource, upstream: NodeDist, ctx: SourceDeps, keys: KeySet, signature: str, reason: str
) -> None:
    upstream.signature = signature
    with pytest.raises(SignatureError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    key_file = keys.keys_dir / "nodejs" / f"{keys.release.fingerprint}.asc"
    expected = reason.format(stranger=keys.stranger.fingerprint[-16:])
    assert str(caught.value) == (
        f"node v{V} SHASUMS256.txt: signature does not verify against {key_file}: {expected}"
    )
    assert upstream.paths() == [f"{DIST}/SHASUMS256.txt", f"{DIST}/SHASUMS256.txt.sig"]
    assert isinstance(ctx.store, LocalStore)
    assert not ctx.store.root.exists()


def test_only_the_allowed_releasers_may_sign(ctx: SourceDeps, keys: KeySet) -> None:
    other = "0" * 40
    with pytest.raises(SignatureError) as caught:
        NodeSource(ctx, fingerprints=[other]).lock(TOOL, Release(V), BOTH)
    key_file = keys.keys_dir / "nodejs" / f"{keys.release.fingerprint}.asc"
    assert str(caught.value) == (
        f"node v{V} SHASUMS256.txt: signed by {spaced(keys.release.fingerprint)} from {key_file}, "
        f"not by the expected key ({spaced(other)})"
    )


def test_tarball_disagreeing_with_the_signed_sums_is_refused_and_not_stored(
    source: NodeSource, upstream: NodeDist, ctx: SourceDeps
) -> None:
    upstream.wrong_bytes = {f"node-v{V}-linux-x64.tar.gz"}
    with pytest.raises(ChecksumError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    expected = hashlib.sha256(_tarball(upstream, "x64")).hexdigest()
    actual = hashlib.sha256(_tarball(upstream, "x64") + b"\0tampered").hexdigest()
    assert caught.value.mismatch == Mismatch("node", "linux/amd64", expected, actual)
    url = f"{upstream.url}{DIST}/node-v{V}-linux-x64.tar.gz"
    assert str(caught.value) == (
        f"sha256 mismatch for node (linux/amd64) node-v{V}-linux-x64.tar.gz from {url}: "
        f"expected {expected}, got {actual}"
    )
    assert isinstance(ctx.store, LocalStore)
    assert not ctx.store.root.exists()  # amd64 goes first: nothing reached the store
    assert not any(path.endswith("arm64.tar.gz") for path in upstream.paths())


@pytest.mark.parametrize(
    ("path", "status", "times", "reason"),
    [
        ("/dist/index.json", 500, 5, "HTTP 500 Internal Server Error"),
        (f"{DIST}/SHASUMS256.txt.sig", 404, 1, "HTTP 404 Not Found"),
        (f"{DIST}/node-v{V}-linux-arm64.tar.gz", 404, 1, "HTTP 404 Not Found"),
    ],
)
def test_failures_name_the_url(
    source: NodeSource, upstream: NodeDist, path: str, status: int, times: int, reason: str
) -> None:
    upstream.fail(path, status, times)
    with pytest.raises(UpstreamError) as caught:
        source.releases(TOOL) if path == "/dist/index.json" else source.lock(TOOL, Release(V), BOTH)
    file = path.rsplit("/", 1)[1]
    named = f"node {V} (linux/arm64): cannot download {file}: " if file.endswith(".tar.gz") else ""
    assert str(caught.value) == f"{named}GET {upstream.url}{path}: {reason}"


def test_slow_answers_are_waited_for(source: NodeSource, upstream: NodeDist) -> None:
    upstream.delays[f"{DIST}/SHASUMS256.txt"] = 0.3
    assert (
        source.lock(TOOL, Release(V), (ARM64,)).payload.files[ARM64].file == f"node-v{V}-linux-arm64.tar.gz"
    )


def test_tarball_missing_from_the_signed_sums_is_never_downloaded(
    source: NodeSource, upstream: NodeDist
) -> None:
    upstream.unlisted = {f"node-v{V}-linux-arm64.tar.gz"}
    with pytest.raises(UpstreamError) as caught:
        source.lock(TOOL, Release(V), BOTH)
    assert (
        str(caught.value) == f"node {V}: node-v{V}-linux-arm64.tar.gz is not listed in the signed checksums"
    )
    assert f"{DIST}/node-v{V}-linux-arm64.tar.gz" not in upstream.paths()
