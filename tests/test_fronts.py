"""The CLI and the Lambda are two fronts of one wiring (builder/runtime.py): the same update,
against the same fakes, asks the same upstream requests with the token on the same ones only,
and proposes the same pull request."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.updating.lambda_handler import handler
from tests.fakes.github import FakeGitHub
from tests.fakes.github_pulls import FakeRepo
from tests.helpers import run_cli
from tests.test_http_credentials import world

BRANCH = "builder/tool-bumps"


@dataclass(frozen=True)
class Seen:
    """What one front did, with each fake's port replaced by its role, so two runs compare."""

    upstream: list[tuple[str, str, str]]  # (host role, path, authorization or "-")
    writes: list[tuple[str, str]]  # the pull-request API's non-GET calls
    branch: dict[str, bytes]  # the bump branch's files
    pull: tuple[str, str]  # title, body


def observe(repo: FakeRepo, releases: FakeGitHub) -> Seen:
    roles = {repo.url.removeprefix("http://"): "api", releases.download_url.removeprefix("http://"): "assets"}
    upstream = sorted((roles.get(r.host, r.host), r.path, r.headers.get("authorization", "-"))
                      for r in releases.requests)  # fmt: skip
    writes = [(method, path) for method, path in repo.calls if method != "GET"]
    (pull,) = repo.open_pulls()
    body = pull["body"].replace(repo.url, "<api>").replace(releases.download_url, "<assets>")
    return Seen(upstream, writes, repo.files_at(BRANCH), (pull["title"], body))


def through_cli(repo: FakeRepo, root: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", repo.token)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))  # a cold cache, as the Lambda's is
    result = run_cli(root, "update", "--open-pr", "--repository", f"{repo.owner}/{repo.name}")
    assert result.exit_code == 0, result.output


def through_handler(repo: FakeRepo, root: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("BUILDER_GITHUB_REPOSITORY", f"{repo.owner}/{repo.name}")
    monkeypatch.setenv("BUILDER_GITHUB_TOKEN", repo.token)
    monkeypatch.setenv("BUILDER_GITHUB_API", repo.url)
    handler({}, None, io.StringIO())


Front = Callable[[FakeRepo, Path, pytest.MonkeyPatch, Path], None]


def reset(repo: FakeRepo, releases: FakeGitHub) -> None:
    """The repository as it was seeded: no bump branch, no pull request, nothing recorded."""
    repo.pulls.clear()
    repo.refs.pop(BRANCH, None)
    releases.requests.clear()
    repo.calls.clear()


def test_the_cli_and_the_lambda_make_the_same_requests_and_the_same_pull_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    with world(tmp_path, monkeypatch) as (repo, releases, root):
        for number, front in enumerate((through_cli, through_handler)):
            with pytest.MonkeyPatch.context() as env:
                front(repo, root, env, tmp_path / f"cache-{number}")
            seen.append(observe(repo, releases))
            reset(repo, releases)
    cli, lam = seen
    assert cli.upstream == lam.upstream
    assert {(role, auth) for role, _, auth in cli.upstream} == {
        ("api", f"Bearer {repo.token}"),
        ("assets", "-"),
    }
    assert cli.writes == lam.writes and cli.writes
    assert cli.branch == lam.branch
    assert b"1.1.0" in cli.branch["builder.lock"]
    assert cli.pull == lam.pull
