"""GitHub release lists followed by their ``Link: rel="next"`` headers, fresh and from the ETag cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.config.catalogue import Install, Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import HttpSettings, Settings
from builder.config.versions import Constraint
from builder.errors import UpstreamError
from builder.plumbing.credentials import Credential
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import SourceDeps
from builder.sources.github import MAX_PAGES, PER_PAGE, GitHubSource
from tests.fakes.github import FakeGitHub, repo_id, serve

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = "ghp_fake0token0for0pagination"
REPO = "acme/scan"
TOOL = Tool(
    name="scan",
    source="github",
    upstream={"repository": REPO},
    constraint=Constraint.parse(">=0.1", "semver"),
    install=Install("binary", {}, {Platform("linux", "amd64"): "scan-amd64"}),
    check=VersionCheck(("scan", "--version"), r"(\S+)"),
    where="tools.yaml:1",
)
FIRST = f"/repos/{REPO}/releases?per_page={PER_PAGE}"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeGitHub) -> FakeGitHub:
    server.reset()
    return server


def source(tmp_path: Path, fake: FakeGitHub, api: str = "") -> GitHubSource:
    http = HttpClient(make_session(), cache_dir=tmp_path / "etags", credentials=[Credential.bearer(fake.url, TOKEN)],
                      limits=HttpSettings(retries=1), sleep=lambda _: None, clock=NOW.timestamp)  # fmt: skip
    ctx = SourceDeps(http=http, settings=Settings(), base_urls={"github_api": api or fake.url, "github_downloads": fake.download_url},
                        keys_dir=Path("builder/data/keys"), work_dir=tmp_path / "work")  # fmt: skip
    return GitHubSource(ctx)


def publish(fake: FakeGitHub, count: int) -> None:
    """``count`` releases v1.0.0 .. v1.<count-1>.0; GitHub lists the newest first, so v1.0.0 comes last."""
    for n in range(count):
        fake.release(REPO, f"v1.{n}.0")


def paths(fake: FakeGitHub) -> list[str]:
    return [r.path for r in fake.requests]


def by_id(page: int) -> str:
    return f"/repositories/{repo_id(REPO)}/releases?per_page={PER_PAGE}&page={page}"


def test_a_release_on_page_three_is_found_by_following_the_links(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, 2 * PER_PAGE + 7)
    fake.links_by_id = True  # the next pages have a path the client could not have made up
    versions = [r.version for r in source(tmp_path, fake).releases(TOOL)]
    assert len(versions) == 2 * PER_PAGE + 7 == len(set(versions))
    assert versions[-1] == "1.0.0"  # the oldest, alone on page 3 with six others
    assert paths(fake) == [FIRST, by_id(2), by_id(3)]
    assert all(r.status == 200 and r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


def test_pagination_stops_at_the_page_without_a_next_link(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, 2 * PER_PAGE)  # two full pages: counting pages would have asked for an empty third
    assert len(source(tmp_path, fake).releases(TOOL)) == 2 * PER_PAGE
    assert paths(fake) == [FIRST, FIRST + "&page=2"]
    fake.requests.clear()
    fake.repos[REPO] = fake.repos[REPO][:3]
    assert len(source(tmp_path / "fresh", fake).releases(TOOL)) == 3
    assert paths(fake) == [FIRST]  # one page: GitHub sends no Link header at all


def test_pagination_is_still_bounded_by_max_pages(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, (MAX_PAGES + 1) * PER_PAGE + 1)
    releases = source(tmp_path, fake).releases(TOOL)
    assert len(releases) == MAX_PAGES * PER_PAGE
    assert (
        releases[0].version == f"1.{(MAX_PAGES + 1) * PER_PAGE}.0"
    )  # newest first: the cap drops the oldest
    assert paths(fake) == [FIRST] + [f"{FIRST}&page={n}" for n in range(2, MAX_PAGES + 1)]


def test_a_conditional_second_run_follows_the_pages_it_remembered(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, PER_PAGE + 30)
    first = source(tmp_path, fake).releases(TOOL)
    fake.requests.clear()
    second = source(tmp_path, fake).releases(TOOL)  # a new client on the same on-disk cache
    assert second == first and len(second) == PER_PAGE + 30
    assert paths(fake) == [FIRST, FIRST + "&page=2"]
    assert [r.status for r in fake.requests] == [304, 304]  # no Link header in a 304: it came from the cache
    assert all("if-none-match" in r.headers for r in fake.requests)


def test_a_cache_entry_from_before_links_were_kept_is_fetched_afresh(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    publish(fake, PER_PAGE + 30)
    source(tmp_path, fake).releases(TOOL)
    entries = list((tmp_path / "etags").glob("*.json"))
    assert len(entries) == 2
    for entry in entries:  # the format older versions wrote: etag and body only
        data = json.loads(entry.read_text())
        assert set(data) == {"etag", "body", "link"}
        entry.write_text(json.dumps({"etag": data["etag"], "body": data["body"]}))
    fake.requests.clear()
    assert len(source(tmp_path, fake).releases(TOOL)) == PER_PAGE + 30
    assert [(r.path, r.status) for r in fake.requests] == [(FIRST, 200), (FIRST + "&page=2", 200)]
    assert all("if-none-match" not in r.headers for r in fake.requests)
    assert all("link" in json.loads(entry.read_text()) for entry in entries)  # rewritten in the new format


def test_a_next_link_to_another_host_is_refused(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, PER_PAGE + 1)
    fake.link_base = fake.download_url  # the same server as http://localhost:PORT: another host name
    with pytest.raises(UpstreamError) as caught:
        source(tmp_path, fake).releases(TOOL)
    foreign = f"{fake.download_url}{FIRST}&page=2"
    assert str(caught.value) == (
        f"scan: GitHub's release list for {REPO} names its next page at {foreign}, "
        f"outside the configured API {fake.url}: refusing to follow it"
    )
    assert paths(fake) == [FIRST]  # nothing was asked of the other host
    assert TOKEN not in str(caught.value)


def test_an_enterprise_api_path_is_followed_and_a_link_outside_it_refused(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    publish(fake, PER_PAGE + 1)
    enterprise = fake.url + "/api/v3"
    fake.link_base = enterprise
    assert len(source(tmp_path, fake, enterprise).releases(TOOL)) == PER_PAGE + 1
    assert paths(fake) == ["/api/v3" + FIRST, "/api/v3" + FIRST + "&page=2"]
    fake.requests.clear()
    fake.link_base = fake.url  # the right host, but outside the API's path
    with pytest.raises(UpstreamError, match=r"names its next page at .*, outside the configured API"):
        source(tmp_path / "other", fake, enterprise).releases(TOOL)
    assert paths(fake) == ["/api/v3" + FIRST]


def test_the_fake_honours_per_page_and_names_every_page(tmp_path: Path, fake: FakeGitHub) -> None:
    publish(fake, 11)
    http = HttpClient(make_session(retries=1), cache_dir=tmp_path / "etags")
    url: str | None = f"{fake.url}/repos/{REPO}/releases?per_page=4"
    tags: list[list[str]] = []
    while url:
        page = http.get_page(url)
        tags.append([item["tag_name"] for item in page.data])
        url = page.next_url
    assert tags == [[f"v1.{n}.0" for n in range(top, max(top - 4, -1), -1)] for top in (10, 6, 2)]
    last = fake.requests[-1]
    answer, _ = fake.answer(last.path, {})
    assert answer.headers["Link"] == (
        f'<{fake.url}/repos/{REPO}/releases?per_page=4&page=2>; rel="prev", '
        f'<{fake.url}/repos/{REPO}/releases?per_page=4&page=1>; rel="first"'
    )
