"""GitHub releases against a fake GitHub on 127.0.0.1: listing, verifying, pinning, and every way it fails."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.config.catalogue import Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import HttpSettings, Settings
from builder.config.versions import Constraint
from builder.errors import ChecksumError, ConfigError, UpstreamError
from builder.kinds.archive import ArchiveInstall
from builder.kinds.release_files import Artifact
from builder.locking.evidence import AssetDigest, ChecksumFile
from builder.plumbing.credentials import Credential
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps, allow_prereleases, choose, sort_key
from builder.sources.github import GitHubSource, parse_checksums
from builder.stores.base import ArtifactRef
from builder.stores.local import LocalStore
from tests.fakes.evidence import TESTED
from tests.fakes.github import Failure, FakeGitHub, checksum_file, serve

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = "ghp_fake0token0for0tests"
REPO = "aquasecurity/trivy"
AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
TRIVY = Tool(
    name="trivy",
    source="github",
    upstream={"repository": REPO, "checksums": "trivy_{version}_checksums.txt"},
    constraint=Constraint.parse(">=0.1", "semver"),
    install=ArchiveInstall(
        "archive",
        {},
        {AMD64: "trivy_{version}_Linux-64bit.tar.gz", ARM64: "trivy_{version}_Linux-ARM64.tar.gz"},
    ),
    check=VersionCheck(("trivy", "--version"), r"Version: (\S+)"),
    where="tools.yaml:3",
)
V = "0.74.0"
AMD64_FILE, ARM64_FILE, SUMS = (
    f"trivy_{V}_Linux-64bit.tar.gz",
    f"trivy_{V}_Linux-ARM64.tar.gz",
    f"trivy_{V}_checksums.txt",
)
RELEASE = Release(V)


@dataclasses.dataclass
class GitHub:
    fake: FakeGitHub
    source: GitHubSource
    ctx: SourceDeps
    store: LocalStore
    sleeps: list[float]


RETRYING = HttpSettings(retries=4)


def make_context(
    tmp_path: Path, api: str, sleeps: list[float], limits: HttpSettings = RETRYING, downloads: str = ""
) -> SourceDeps:
    http = HttpClient(make_session(), cache_dir=tmp_path / "etags", credentials=[Credential.bearer(api, TOKEN)],
                      limits=limits, sleep=sleeps.append, clock=NOW.timestamp)  # fmt: skip
    return SourceDeps(http=http, settings=Settings(), base_urls={"github_api": api, "github_downloads": downloads or api.replace("127.0.0.1", "localhost")},
                         keys_dir=Path("builder/data/keys"), work_dir=tmp_path / "work",
                         store=LocalStore(tmp_path / "store"))  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    """One server for the module: stopping one takes half a second (serve_forever's poll interval)."""
    with serve(FakeGitHub()) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeGitHub) -> FakeGitHub:
    server.reset()
    return server


@pytest.fixture
def github(tmp_path: Path, fake: FakeGitHub) -> GitHub:
    sleeps: list[float] = []
    ctx = make_context(tmp_path, fake.url, sleeps)
    assert isinstance(ctx.store, LocalStore)
    return GitHub(fake, GitHubSource(ctx), ctx, ctx.store, sleeps)


def publish(fake: FakeGitHub, version: str = V, sums: bytes | None = None) -> dict[str, bytes]:
    """A trivy release with two archives and (unless ``sums=b""``) a checksum file; returns the archives."""
    files = {f"trivy_{version}_Linux-64bit.tar.gz": b"amd64 archive " * 300,
             f"trivy_{version}_Linux-ARM64.tar.gz": b"arm64 archive " * 200}  # fmt: skip
    sums = checksum_file(files) if sums is None else sums
    fake.release(REPO, f"v{version}", {**files, **({f"trivy_{version}_checksums.txt": sums} if sums else {})})
    return files


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ref(platform: Platform, name: str, data: bytes) -> ArtifactRef:
    return ArtifactRef("trivy", V, platform, Artifact(name, "", sha(data), len(data), evidence=TESTED))


# --- the happy path -------------------------------------------------------------------------------------


def test_lock_verifies_both_platforms_against_file_and_digest_and_fills_the_store(github: GitHub) -> None:
    files = publish(github.fake)
    locked = github.source.lock(TRIVY, RELEASE, [AMD64, ARM64])
    assert (locked.name, locked.version) == ("trivy", V)
    sums_url = f"{github.fake.download_url}/download/{REPO}/v{V}/{SUMS}"
    for platform, name in ((AMD64, AMD64_FILE), (ARM64, ARM64_FILE)):
        artifact = locked.payload.files[platform]
        # What was checked, as records: the checksum file (itself pinned) and GitHub's asset digest.
        assert artifact.evidence == (
            ChecksumFile(SUMS, sums_url, sha(checksum_file(files))),
            AssetDigest("github"),
        )
        assert (artifact.file, artifact.sha256, artifact.size) == (name, sha(files[name]), len(files[name]))
        assert artifact.url == f"{github.fake.download_url}/download/{REPO}/v{V}/{name}"
        assert github.store.has(ref(platform, name, files[name]))
        assert github.store.path_of(sha(files[name])).read_bytes() == files[name]


def test_lock_with_only_a_checksum_file_or_only_a_digest_says_which(github: GitHub) -> None:
    publish(github.fake)
    for name in (AMD64_FILE, ARM64_FILE):
        github.fake.asset(REPO, f"v{V}", name).digest = None  # an asset uploaded before GitHub listed digests
    locked = github.source.lock(TRIVY, RELEASE, [AMD64, ARM64])
    assert {type(r) for a in locked.payload.files.values() for r in a.evidence} == {ChecksumFile}
    no_sums = dataclasses.replace(TRIVY, upstream={"repository": REPO})
    publish(github.fake, "0.75.0", sums=b"")
    locked = github.source.lock(no_sums, Release("0.75.0"), [ARM64])
    assert locked.payload.files[ARM64].evidence == (AssetDigest("github"),)


def test_checksum_lines_in_text_and_binary_mode() -> None:
    files = {"a.tar.gz": b"a", "b.zip": b"b"}
    text = checksum_file(files) + b"\n# a comment\n"
    binary = checksum_file(files, binary_mode=True)
    expected = {"a.tar.gz": sha(b"a"), "b.zip": sha(b"b")}
    assert parse_checksums(text) == parse_checksums(binary) == expected
    with pytest.raises(
        UpstreamError, match=r"sums.txt:3: not a '<sha256>  <file>' line: 'not a checksum line'"
    ):
        parse_checksums(checksum_file(files) + b"not a checksum line\n", "sums.txt")
    assert parse_checksums(binary.upper().replace(b"A.TAR.GZ", b"a.tar.gz"))["a.tar.gz"] == sha(b"a")


def test_token_goes_to_the_api_host_only(github: GitHub) -> None:
    publish(github.fake)
    github.source.lock(TRIVY, RELEASE, [AMD64])
    api = [r for r in github.fake.requests if r.path.startswith("/repos/")]
    downloads = [r for r in github.fake.requests if r.path.startswith("/download/")]
    assert [r.path for r in downloads] == [
        f"/download/{REPO}/v{V}/{SUMS}",
        f"/download/{REPO}/v{V}/{AMD64_FILE}",
    ]
    assert api and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in api)
    assert all(r.host.startswith("127.0.0.1:") for r in api)
    assert all(r.host.startswith("localhost:") and "authorization" not in r.headers for r in downloads)
    assert all(r.headers["accept"] == "application/vnd.github+json" for r in api)
    assert all(r.headers["x-github-api-version"] == "2022-11-28" for r in api)


# --- listing releases -----------------------------------------------------------------------------------


def test_releases_skip_drafts_and_odd_tags_and_mark_prereleases(github: GitHub) -> None:
    fake = github.fake
    fake.release(REPO, "v0.73.0", published_at="2025-04-01T08:00:00Z")
    fake.release(REPO, "v0.74.0", published_at="2025-05-30T10:00:00+00:00")  # 2 days before NOW
    fake.release(REPO, "v0.75.0-rc.1", prerelease=True)
    fake.release(REPO, "v0.76.0", draft=True)
    fake.release(REPO, "nightly")
    fake.release(REPO, "helm-chart-0.9.0")
    fake.release(REPO, "vnext")
    releases = github.source.releases(TRIVY)
    assert [(r.version, r.prerelease) for r in releases] == [("0.75.0-rc.1", True), ("0.74.0", False),
                                                             ("0.73.0", False)]  # fmt: skip
    assert releases[1].published == datetime(2025, 5, 30, 10, 0, tzinfo=UTC)
    assert releases[1].published.tzinfo is UTC
    assert releases[1].notes_url == f"https://github.com/{REPO}/releases/tag/v0.74.0"
    assert choose(TRIVY, releases, NOW, "semver", allow_prereleases(TRIVY)).version == "0.74.0"
    cooled = dataclasses.replace(TRIVY, cooldown=timedelta(days=7))
    assert choose(cooled, releases, NOW, "semver").version == "0.73.0"
    with pytest.raises(UpstreamError) as caught:
        choose(
            dataclasses.replace(TRIVY, constraint=Constraint.parse(">=0.75", "semver")),
            releases,
            NOW,
            "semver",
        )
    assert str(caught.value) == (
        "trivy: no release satisfies '>=0.75' (tried: 0.75.0-rc.1 (prerelease), "
        "0.74.0 (outside the constraint), 0.73.0 (outside the constraint))"
    )


def test_prereleases_are_taken_in_semver_order_only_when_the_catalogue_allows_them() -> None:
    releases = [Release(v, prerelease="-" in v) for v in
                ("0.74.0", "0.75.0-rc.1", "0.75.0-rc.10", "0.75.0-rc.2", "0.75.0-beta.3", "0.73.9")]  # fmt: skip
    eager = dataclasses.replace(TRIVY, upstream={"repository": REPO, "prereleases": True})
    assert choose(TRIVY, releases, NOW, "semver", allow_prereleases(TRIVY)).version == "0.74.0"
    assert choose(eager, releases, NOW, "semver", allow_prereleases(eager)).version == "0.75.0-rc.10"
    final = [*releases, Release("0.75.0")]  # the release outranks every one of its candidates
    assert choose(eager, final, NOW, "semver", allow_prereleases(eager)).version == "0.75.0"
    ordered = sorted(final, key=sort_key("semver"))
    assert [r.version for r in ordered] == [
        "0.73.9", "0.74.0", "0.75.0-beta.3", "0.75.0-rc.1", "0.75.0-rc.2", "0.75.0-rc.10", "0.75.0"
    ]  # fmt: skip


def test_prereleases_key_reads_the_catalogue() -> None:
    assert not allow_prereleases(TRIVY)
    assert allow_prereleases(dataclasses.replace(TRIVY, upstream={"repository": REPO, "prereleases": True}))


def test_a_custom_tag_template_reads_and_writes_tags(github: GitHub) -> None:
    tool = dataclasses.replace(TRIVY, upstream={"repository": REPO, "tag": "cli-{version}"})
    github.fake.release(REPO, "cli-1.2.3", {"trivy_1.2.3_Linux-64bit.tar.gz": b"x"})
    github.fake.release(REPO, "v1.2.4")
    assert [r.version for r in github.source.releases(tool)] == ["1.2.3"]
    locked = github.source.lock(tool, Release("1.2.3"), [AMD64]).payload.files[AMD64]
    assert locked.url.endswith("/cli-1.2.3/trivy_1.2.3_Linux-64bit.tar.gz")
    broken = dataclasses.replace(TRIVY, upstream={"repository": REPO, "tag": "latest"})
    with pytest.raises(ConfigError) as caught:
        github.source.releases(broken)
    assert str(caught.value) == "tools.yaml:3: tag template 'latest' does not contain {version}"


def test_releases_follow_pages_up_to_five(github: GitHub) -> None:
    for n in range(230):
        github.fake.release(REPO, f"v1.{n}.0")
    assert len(github.source.releases(TRIVY)) == 230
    listed = [r.path for r in github.fake.requests]
    base = f"/repos/{REPO}/releases?per_page=100"
    assert listed == [base, base + "&page=2", base + "&page=3"]
    for n in range(230, 620):
        github.fake.release(REPO, f"v1.{n}.0")
    releases = github.source.releases(TRIVY)
    assert len(releases) == 500
    assert releases[0].version == "1.619.0"  # newest first: the cap drops the oldest
    assert github.fake.requests[-1].path == base + "&page=5"


def test_second_listing_is_revalidated_with_the_etag(github: GitHub) -> None:
    publish(github.fake)
    first = github.source.releases(TRIVY)
    second = github.source.releases(TRIVY)
    assert first == second == [Release(V, datetime(2025, 1, 1, tzinfo=UTC), False, False,
                                       f"https://github.com/{REPO}/releases/tag/v{V}")]  # fmt: skip
    one, two = github.fake.requests
    assert "if-none-match" not in one.headers and one.status == 200
    assert two.headers["if-none-match"] == one_etag(github) and two.status == 304
    assert github.ctx.http.requests == 2


def one_etag(github: GitHub) -> str:
    answer, _ = github.fake.answer(f"/repos/{REPO}/releases?per_page=100", {})
    return answer.headers["ETag"]


# --- verification failures ------------------------------------------------------------------------------


def test_checksum_file_that_disagrees_is_a_mismatch_and_nothing_is_kept(github: GitHub) -> None:
    files = publish(
        github.fake, sums=checksum_file({AMD64_FILE: b"other bytes", ARM64_FILE: b"arm64 archive " * 200})
    )
    with pytest.raises(ChecksumError) as caught:
        github.source.lock(TRIVY, RELEASE, [ARM64, AMD64])
    assert str(caught.value) == (
        f"sha256 mismatch for trivy (linux/amd64) {AMD64_FILE} (per the checksum file {SUMS}): "
        f"expected {sha(b'other bytes')}, got {sha(files[AMD64_FILE])}"
    )
    assert not (github.ctx.work_dir / "trivy" / V / AMD64_FILE).exists()
    assert not (github.store.root / "sha256").exists()  # nothing stored, not even the good platform


def test_wrong_asset_digest_is_a_mismatch(github: GitHub) -> None:
    files = publish(github.fake)
    github.fake.asset(REPO, f"v{V}", ARM64_FILE).digest = "sha256:" + "0" * 64
    with pytest.raises(ChecksumError) as caught:
        github.source.lock(TRIVY, RELEASE, [AMD64, ARM64])
    assert str(caught.value) == (
        f"sha256 mismatch for trivy (linux/arm64) {ARM64_FILE} (per the asset digest): "
        f"expected {'0' * 64}, got {sha(files[ARM64_FILE])}"
    )


def test_size_the_api_lists_must_match(github: GitHub) -> None:
    files = publish(github.fake)
    github.fake.asset(REPO, f"v{V}", AMD64_FILE).size = len(files[AMD64_FILE]) + 1
    with pytest.raises(ChecksumError) as caught:
        github.source.lock(TRIVY, RELEASE, [AMD64])
    size = len(files[AMD64_FILE])
    assert str(caught.value) == (f"sha256 mismatch for trivy (linux/amd64) {AMD64_FILE} (size the GitHub API "
                                 f"lists): expected {size + 1} bytes, got {size} bytes")  # fmt: skip


def test_nothing_to_verify_against_is_refused(github: GitHub) -> None:
    publish(github.fake, sums=b"")
    github.fake.asset(REPO, f"v{V}", AMD64_FILE).digest = None
    with pytest.raises(UpstreamError) as caught:
        github.source.lock(dataclasses.replace(TRIVY, upstream={"repository": REPO}), RELEASE, [AMD64])
    assert str(caught.value) == (
        f"trivy (linux/amd64): nothing to verify against for {AMD64_FILE}: the release lists no asset digest "
        "and the catalogue names no checksum file (set 'checksums')"
    )
    assert not [r for r in github.fake.requests if r.path.startswith("/download/")]  # not even downloaded


def test_checksum_file_without_our_entry(github: GitHub) -> None:
    publish(github.fake, sums=checksum_file({AMD64_FILE: b"amd64 archive " * 300}))
    with pytest.raises(UpstreamError) as caught:
        github.source.lock(TRIVY, RELEASE, [AMD64, ARM64])
    assert str(caught.value) == f"trivy (linux/arm64): {SUMS} has no entry for {ARM64_FILE}"


def test_missing_asset_lists_what_the_release_has(github: GitHub) -> None:
    publish(github.fake)
    tool = dataclasses.replace(
        TRIVY,
        install=dataclasses.replace(TRIVY.install, assets={AMD64: "trivy_{version}_Linux-x86_64.tar.gz"}),
    )
    with pytest.raises(UpstreamError) as caught:
        github.source.lock(tool, RELEASE, [AMD64])
    assert str(caught.value) == (
        f"trivy: release v{V} of {REPO} has no trivy_{V}_Linux-x86_64.tar.gz (an asset for linux/amd64); "
        f"assets present: {AMD64_FILE}, {ARM64_FILE}, {SUMS}"
    )
    no_sums = dataclasses.replace(TRIVY, upstream={**TRIVY.upstream, "checksums": "checksums.txt"})
    with pytest.raises(UpstreamError, match=r"has no checksums.txt \(its checksum file\); assets present: "):
        github.source.lock(no_sums, RELEASE, [AMD64])


def test_an_asset_still_uploading_is_refused(github: GitHub) -> None:
    publish(github.fake)
    github.fake.asset(REPO, f"v{V}", ARM64_FILE).state = "starter"
    with pytest.raises(UpstreamError) as caught:
        github.source.lock(TRIVY, RELEASE, [ARM64])
    assert str(caught.value) == f"trivy: {ARM64_FILE} in release v{V} of {REPO} is not fully uploaded yet"


# --- upstream failures ----------------------------------------------------------------------------------


def test_unknown_repository_is_a_404_message(github: GitHub) -> None:
    tool = dataclasses.replace(TRIVY, upstream={"repository": "aquasecurity/nope"})
    with pytest.raises(UpstreamError) as caught:
        github.source.releases(tool)
    assert str(caught.value) == (
        "trivy: cannot read the releases of aquasecurity/nope on GitHub: "
        f"GET {github.fake.url}/repos/aquasecurity/nope/releases?per_page=100: HTTP 404 Not Found"
    )


def test_missing_tag_message_carries_no_credentials(tmp_path: Path, fake: FakeGitHub) -> None:
    api = fake.url.replace("http://", "http://x-access-token:s3cr3t-in-url@")
    source = GitHubSource(make_context(tmp_path, api, []))
    fake.fail(f"/repos/{REPO}/releases/tags/v{V}", Failure(404))
    with pytest.raises(UpstreamError) as caught:
        source.lock(TRIVY, RELEASE, [AMD64])
    message = str(caught.value)
    assert message == (
        f"trivy: cannot read the release v{V} of {REPO} on GitHub: GET "
        f"http://x-access-token:****@{fake.url[7:]}/repos/{REPO}/releases/tags/v{V}: HTTP 404 Not Found"
    )
    assert "s3cr3t" not in message and TOKEN not in message


def test_a_download_that_fails_names_the_file_and_leaves_nothing(github: GitHub) -> None:
    publish(github.fake)
    github.fake.fail(f"/download/{REPO}/v{V}/{ARM64_FILE}", Failure(404))
    with pytest.raises(UpstreamError) as caught:
        github.source.lock(TRIVY, RELEASE, [AMD64, ARM64])
    assert str(caught.value) == (
        f"trivy {V} (linux/arm64): cannot download {ARM64_FILE}: "
        f"GET {github.fake.download_url}/download/{REPO}/v{V}/{ARM64_FILE}: HTTP 404 Not Found"
    )
    assert not (github.ctx.work_dir / "trivy" / V / ARM64_FILE).exists()
    github.fake.fail(f"/download/{REPO}/v{V}/{SUMS}", Failure(404))
    with pytest.raises(UpstreamError, match=rf"^trivy: cannot download {SUMS}: GET .*: HTTP 404 Not Found$"):
        github.source.lock(TRIVY, RELEASE, [AMD64])


def test_server_errors_are_retried_until_github_recovers(github: GitHub) -> None:
    publish(github.fake)
    github.fake.fail(f"/repos/{REPO}/releases/tags/v{V}", Failure(500), Failure(502))
    github.fake.fail(f"/download/{REPO}/v{V}/{AMD64_FILE}", Failure(503))
    locked = github.source.lock(TRIVY, RELEASE, [AMD64])
    assert locked.payload.files[AMD64].file == AMD64_FILE
    statuses = [(r.path.rsplit("/", 1)[-1], r.status) for r in github.fake.requests]
    assert statuses[:3] == [(f"v{V}", 500), (f"v{V}", 502), (f"v{V}", 200)]
    assert (AMD64_FILE, 503) in statuses and (AMD64_FILE, 200) in statuses
    # Three short backoffs (0.5 s, then 1 s, each plus up to 0.5 s of jitter), no rate-limit wait.
    assert len(github.sleeps) == 3 and all(0.5 <= wait <= 1.5 for wait in github.sleeps)


def test_server_errors_that_persist_end_in_one_line(github: GitHub) -> None:
    github.fake.fail(f"/repos/{REPO}/releases", *[Failure(500)] * 5)
    with pytest.raises(UpstreamError) as caught:
        github.source.releases(TRIVY)
    assert str(caught.value) == (
        f"trivy: cannot read the releases of {REPO} on GitHub: "
        f"GET {github.fake.url}/repos/{REPO}/releases?per_page=100: HTTP 500 Internal Server Error"
    )
    assert len(github.fake.requests) == 5  # the first try and four retries


def test_exhausted_rate_limit_waits_until_the_reset(github: GitHub) -> None:
    publish(github.fake)
    github.fake.fail(f"/repos/{REPO}/releases", Failure.rate_limit_exhausted(NOW.timestamp() + 30))
    assert [r.version for r in github.source.releases(TRIVY)] == [V]
    assert github.sleeps == [31.0]  # until x-ratelimit-reset, plus a second
    assert [r.status for r in github.fake.requests] == [403, 200]


def test_secondary_rate_limit_honours_retry_after(github: GitHub) -> None:
    publish(github.fake)
    github.fake.fail(f"/repos/{REPO}/releases/tags/v{V}", Failure.retry_after(403, 7))
    github.source.lock(TRIVY, RELEASE, [AMD64])
    assert github.sleeps == [7.0]


def test_429_retry_after_is_honoured_by_the_client(tmp_path: Path, fake: FakeGitHub) -> None:
    """Without session retries: urllib3's own Retry would otherwise sleep the Retry-After for real."""
    publish(fake)
    sleeps: list[float] = []
    source = GitHubSource(make_context(tmp_path, fake.url, sleeps, HttpSettings(retries=0)))
    fake.fail(f"/repos/{REPO}/releases", Failure.retry_after(429, 9), Failure.retry_after(429, 2))
    assert [r.version for r in source.releases(TRIVY)] == [V]
    assert sleeps == [9.0, 2.0]


def test_a_rate_limit_longer_than_the_run_waits_is_an_error(github: GitHub) -> None:
    github.fake.fail(f"/repos/{REPO}/releases", Failure.rate_limit_exhausted(NOW.timestamp() + 3600))
    with pytest.raises(UpstreamError) as caught:
        github.source.releases(TRIVY)
    assert str(caught.value) == (
        f"trivy: cannot read the releases of {REPO} on GitHub: GET {github.fake.url}/repos/{REPO}/releases"
        "?per_page=100: rate limited for 3601 s more (over the 120 s this run waits); set GITHUB_TOKEN "
        "for a higher limit, or run later"
    )
    assert github.sleeps == []


def test_a_slow_answer_within_the_timeout_is_awaited(github: GitHub) -> None:
    publish(github.fake)
    github.fake.fail(f"/download/{REPO}/v{V}/{AMD64_FILE}", Failure.slow(0.2))
    assert github.source.lock(TRIVY, RELEASE, [AMD64]).payload.files[AMD64].file == AMD64_FILE


def test_an_answer_slower_than_the_timeout_is_retried_then_reported(tmp_path: Path, fake: FakeGitHub) -> None:
    source = GitHubSource(make_context(tmp_path, fake.url, [], HttpSettings(read_timeout=0.1, retries=4)))
    publish(fake)
    fake.fail(f"/repos/{REPO}/releases", Failure.slow(0.3))
    assert [r.version for r in source.releases(TRIVY)] == [V]  # one slow answer: retried
    fake.fail(f"/repos/{REPO}/releases/tags/v{V}", *[Failure.slow(0.3)] * 5)
    with pytest.raises(UpstreamError) as caught:
        source.lock(TRIVY, RELEASE, [AMD64])
    assert str(caught.value) == (
        f"trivy: cannot read the release v{V} of {REPO} on GitHub: GET {fake.url}/repos/{REPO}/releases/tags/"
        f"v{V}: 127.0.0.1 stopped answering (read timeout); gave up after 5 attempts"
    )
