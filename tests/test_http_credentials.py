"""Credentials scoped by scheme, host, port and path prefix: sent where they belong, redirects included.

GitHub Enterprise serves its API, its npm registry and its release downloads under one host name,
and a corporate proxy many upstreams: a token scoped by host name alone reaches all of them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from builder.errors import UpstreamError
from builder.locking.lockfile import load_lockfile
from builder.plumbing.credentials import Credential, Scope, headers_for
from builder.plumbing.http import HttpClient, make_session
from builder.updating.lambda_handler import handler
from builder.updating.pull_requests import GitHubClient
from tests.conftest import REPO
from tests.fakes.github import Failure, FakeGitHub, checksum_file
from tests.fakes.github import serve as serve_github
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.github_pulls import serve as serve_repo
from tests.fakes.npm_registry import NpmRegistry, make_tarball
from tests.fakes.npm_registry import serve as serve_npm
from tests.helpers import run_cli

TOKEN = "ghp_scoped0token0for0tests"


@pytest.mark.parametrize(
    ("scope", "url", "covered"),
    [
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3/repos/a/b", True),
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3", True),
        ("https://ghe.example/api/v3/", "https://ghe.example/api/v3", True),
        ("https://GHE.example/api/v3", "https://ghe.EXAMPLE/api/v3/x", True),
        ("https://ghe.example", "https://ghe.example:443/anything", True),  # default port normalised
        ("https://ghe.example:443/", "https://ghe.example/x", True),
        ("http://ghe.example", "http://ghe.example:80/x", True),
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3x/repos", False),  # not a segment boundary
        ("https://ghe.example/api/v3", "https://ghe.example/_registry/npm/scanjs", False),
        ("https://ghe.example/api/v3", "https://ghe.example/", False),
        ("https://ghe.example", "http://ghe.example/x", False),  # another scheme
        ("https://ghe.example", "https://ghe.example:8443/x", False),  # another port
        ("https://ghe.example", "https://objects.ghe.example/x", False),  # another host
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3/../../_registry/npm", False),
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3/%2e%2e/%2E%2E/login", False),
        ("https://ghe.example/api/v3", "https://ghe.example/api/v3/a%2f..%2f..%2flogin", False),
        ("https://ghe.example", "ftp://ghe.example/x", False),
        ("https://ghe.example", "https://ghe.example:notaport/x", False),
    ],
)
def test_a_scope_covers_its_origin_and_path_prefix_only(scope: str, url: str, covered: bool) -> None:
    assert Scope.parse(scope).covers(url) is covered


@pytest.mark.parametrize(
    "url", ["file:///tmp/x", "https:///no-host", "https://h/api/../x", "https://h:99999/"]
)
def test_nothing_is_scoped_to_a_url_without_a_clear_origin_and_path(url: str) -> None:
    with pytest.raises(ValueError):
        Scope.parse(url)


def test_the_callers_header_wins_then_the_longest_prefix() -> None:
    host = Credential.bearer("https://ghe.example", "ghp_whole0host0token")
    api = Credential.bearer("https://ghe.example/api/v3", "ghp_api0only0token")
    both = (host, api)
    assert headers_for("https://ghe.example/api/v3/repos", {}, both) == {"Authorization": api.value}
    assert headers_for("https://ghe.example/_registry/npm/x", {}, both) == {"Authorization": host.value}
    given = {"authorization": "Bearer npm_token_of_the_caller"}
    assert headers_for("https://ghe.example/api/v3/x", given, both) == given
    assert headers_for("https://other.example/x", {"Accept": "a/b"}, both) == {"Accept": "a/b"}
    assert "ghp_api0only0token" not in repr(api)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGitHub, FakeGitHub]]:
    """Two fakes on 127.0.0.1: the same host name, two ports."""
    with serve_github(FakeGitHub()) as one, serve_github(FakeGitHub()) as other:
        yield one, other


def client(credentials: tuple[Credential, ...]) -> HttpClient:
    return HttpClient(make_session(), credentials=credentials, sleep=lambda _: None)


def authorization(fake: FakeGitHub, path: str) -> list[str | None]:
    return [r.headers.get("authorization") for r in fake.requests if r.path == path]


def test_a_token_goes_to_its_path_and_port_not_to_the_rest_of_its_host_name(
    fakes: tuple[FakeGitHub, FakeGitHub],
) -> None:
    api, other = fakes
    http = client((Credential.bearer(f"{api.url}/api/v3", TOKEN),))
    api.release("acme/scan", "v1.0.0")
    other.release("acme/scan", "v1.0.0")
    for url in (f"{api.url}/api/v3/repos/acme/scan/releases", f"{api.url}/repos/acme/scan/releases",
                f"{other.url}/api/v3/repos/acme/scan/releases", f"{api.download_url}/api/v3/repos/acme/scan/releases"):  # fmt: skip
        http.get_json(url, conditional=False)
    assert authorization(api, "/api/v3/repos/acme/scan/releases") == [
        f"Bearer {TOKEN}",
        None,
    ]  # 127.0.0.1, localhost
    assert authorization(api, "/repos/acme/scan/releases") == [None]  # the same origin, outside the path
    assert authorization(other, "/api/v3/repos/acme/scan/releases") == [None]  # another port


def test_a_redirect_out_of_the_scope_never_carries_the_token(fakes: tuple[FakeGitHub, FakeGitHub]) -> None:
    api, other = fakes
    http = client((Credential.bearer(f"{api.url}/api/v3", TOKEN),))
    targets = {
        "/api/v3/a": f"{api.url}/login",  # the same origin, outside the API's path
        "/api/v3/b": f"{other.url}/api/v3/b",  # another port
        "/api/v3/c": f"{api.download_url}/api/v3/c",  # another host name
        "/api/v3/d": "/api/v3/e",  # inside: the token goes on
    }
    for path, location in targets.items():
        api.fail(path, Failure.redirect(location))
        with pytest.raises(UpstreamError, match="HTTP 404"):  # every target answers 404: nothing there
            http.get_bytes(api.url + path)
    assert [(r.path, r.headers.get("authorization")) for r in [*api.requests, *other.requests]] == [
        ("/api/v3/a", f"Bearer {TOKEN}"),
        ("/login", None),
        ("/api/v3/b", f"Bearer {TOKEN}"),
        ("/api/v3/c", f"Bearer {TOKEN}"),
        ("/api/v3/c", None),
        ("/api/v3/d", f"Bearer {TOKEN}"),
        ("/api/v3/e", f"Bearer {TOKEN}"),
        ("/api/v3/b", None),
    ]


def test_a_header_the_caller_set_stays_on_its_origin(fakes: tuple[FakeGitHub, FakeGitHub]) -> None:
    registry, cdn = fakes
    http = client(())
    npm = {"Authorization": "Bearer npm_caller0token0x"}
    registry.fail("/scanjs/-/a.tgz", Failure.redirect("/tarballs/a.tgz"))
    registry.fail("/scanjs/-/b.tgz", Failure.redirect(f"{cdn.url}/tarballs/b.tgz"))
    for name in ("a", "b"):
        with pytest.raises(UpstreamError, match="HTTP 404"):
            http.get_bytes(f"{registry.url}/scanjs/-/{name}.tgz", npm)
    assert authorization(registry, "/tarballs/a.tgz") == [npm["Authorization"]]
    assert authorization(cdn, "/tarballs/b.tgz") == [None]


def test_the_pull_request_client_follows_no_redirect_out_of_the_api() -> None:
    with serve_repo(FakeRepo()) as repo:
        repo.seed({"README.md": b"readme\n"})
        api = f"{repo.url}/api/v3"
        moved = GitHubClient(make_session(), api, "acme/old-name", repo.token)
        repo.redirects["/api/v3/repos/acme/old-name"] = f"{api}/repos/acme/ci-images"  # a renamed repository
        assert moved.download(Path(os.environ["HOME"]) / "checkout", lambda p: True)
        repo.redirects["/api/v3/repos/acme/ci-images"] = f"{repo.url}/login/oauth"
        with pytest.raises(UpstreamError, match=r"outside the API .*: not followed"):
            GitHubClient(make_session(), api, "acme/ci-images", repo.token).download(Path("unused"), bool)
    assert {path for path, _ in repo.seen if not path.startswith("/api/v3/")} == set()
    assert {auth for _, auth in repo.seen} == {f"Bearer {repo.token}"}


NPM_TOOLS = """\
tools:
  scanjs:
    source: npm
    package: scanjs
    version: "^1"
    install: npm-package
    check: {command: [scanjs], pattern: '(\\S+)$'}
"""


@pytest.mark.parametrize("api_path", ["", "/api/v3"])
def test_lock_keeps_the_npm_token_where_github_serves_npm_on_the_api_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_path: str
) -> None:
    """GITHUB_TOKEN set, and the GitHub API on the npm registry's origin: the npmrc token still reaches npm."""
    with serve_npm(NpmRegistry()) as registry:
        registry.token = "npm_registry0token0b7c1"
        registry.publish(make_tarball("scanjs", "1.1.0"), time="2024-02-01T00:00:00.000Z")
        home = Path(os.environ["HOME"])
        (home / ".npmrc").write_text(f"{registry.url.removeprefix('http:')}/:_authToken={registry.token}\n")
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        root = tmp_path / "project"
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scanjs]\n")
        (root / "tools.yaml").write_text(NPM_TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nindexes: {{npm: '{registry.url}/'}}\n"
            f"upstreams: {{github_api: '{registry.url}{api_path}'}}\n"
        )
        result = run_cli(root, "lock")
    assert result.exit_code == 0, result.output
    assert load_lockfile(root).tools["scanjs"].version == "1.1.0"
    assert {seen.authorization for seen in registry.seen} == {f"Bearer {registry.token}"}


SCAN_TOOLS = """\
tools:
  scan:
    source: github
    repository: acme/scan
    checksums: checksums.txt
    install: binary
    assets: {linux/amd64: scan-amd64, linux/arm64: scan-arm64}
    check: {command: [scan], pattern: '(\\S+)'}
"""


def release(fake: FakeGitHub, version: str) -> None:
    files = {f"scan-{arch}": f"scan {version} {arch}".encode() * 100 for arch in ("amd64", "arm64")}
    fake.release("acme/scan", f"v{version}", {**files, "checksums.txt": checksum_file(files)})


@contextmanager
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRepo, FakeGitHub, Path]]:
    """GitHub as the Lambda sees it: one API host for the repository and the releases; assets elsewhere.
    The repository holds a locked project, and its one tool has a newer release."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with serve_github(FakeGitHub()) as releases, serve_repo(FakeRepo(releases=releases)) as repo:
        releases.link_base = repo.url  # the API's own pages name the API host
        release(releases, "1.0.0")
        root = tmp_path / "project"
        shutil.copytree(REPO / "templates", root / "templates")
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan]\n")
        (root / "tools.yaml").write_text(SCAN_TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{repo.url}', github_downloads: '{releases.download_url}'}}\n"
        )
        for args in (("lock",), ("render",)):
            assert run_cli(root, *args).exit_code == 0
        repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
        release(releases, "1.1.0")
        releases.requests.clear()
        repo.calls.clear()
        yield repo, releases, root


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRepo, FakeGitHub, Path]]:
    with world(tmp_path, monkeypatch) as (repo, releases, root):
        monkeypatch.setenv("BUILDER_GITHUB_REPOSITORY", f"{repo.owner}/{repo.name}")
        monkeypatch.setenv("BUILDER_GITHUB_TOKEN", repo.token)
        monkeypatch.setenv("BUILDER_GITHUB_API", repo.url)
        yield repo, releases, root


def run_handler() -> list[dict[str, object]]:
    out = io.StringIO()
    handler({}, None, out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_lambda_reads_releases_with_its_token_and_sends_it_nowhere_else(
    github: tuple[FakeRepo, FakeGitHub, Path],
) -> None:
    repo, releases, _ = github
    records = run_handler()
    (pull,) = repo.open_pulls()
    assert "| scan | 1.0.0 -> **1.1.0** |" in pull["body"]
    api_host, asset_host = repo.url.removeprefix("http://"), releases.download_url.removeprefix("http://")
    api = [r for r in releases.requests if r.host == api_host]
    assets = [r for r in releases.requests if r.host == asset_host]
    assert {r.path.split("?")[0] for r in api} == {
        "/repos/acme/scan/releases",
        "/repos/acme/scan/releases/tags/v1.1.0",
    }
    assert {r.headers.get("authorization") for r in api} == {f"Bearer {repo.token}"}  # 5,000 an hour, not 60
    assert sorted(r.path.rsplit("/", 1)[1] for r in assets) == ["checksums.txt", "scan-amd64", "scan-arm64"]
    assert all("authorization" not in r.headers for r in assets)
    assert len(api) + len(assets) == len(releases.requests)
    assert repo.token not in json.dumps(records)


def test_the_lambda_sends_its_token_to_no_api_that_only_builder_yaml_names(
    github: tuple[FakeRepo, FakeGitHub, Path],
) -> None:
    repo, releases, root = github
    settings = (root / "builder.yaml").read_text().replace(repo.url, releases.url)  # another host and port
    repo.seed({**repo.files_at(repo.default_branch), "builder.yaml": settings.encode()})
    records = run_handler()
    assert [r for r in releases.requests if "authorization" in r.headers] == []
    (warning,) = [r for r in records if r.get("level") == "warning"]
    assert (
        warning["message"] == f"releases on {releases.url} are read without the token (it is for {repo.url})"
    )
    assert len(repo.open_pulls()) == 1
