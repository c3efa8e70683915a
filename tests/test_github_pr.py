"""The pull-request client against a fake GitHub: one branch, one commit, one pull request, updated in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import UpstreamError
from builder.plumbing.http import make_session
from builder.updating.pull_requests import GitHubClient, Proposal
from tests.fakes.github_pulls import FakeRepo, serve


@pytest.fixture
def repo() -> Iterator[FakeRepo]:
    with serve(FakeRepo()) as fake:
        fake.seed({"builder.lock": b"old lock\n", "README.md": b"readme\n"})
        yield fake


def client(repo: FakeRepo, token: str | None = None) -> GitHubClient:
    return GitHubClient(
        make_session(backoff=0.01), repo.url, f"{repo.owner}/{repo.name}", token or repo.token
    )


def proposal(lock: bytes = b"new lock\n", body: str = "one bump") -> Proposal:
    files = {"builder.lock": lock, "buildspecs/scanners/Dockerfile": b"FROM x\n"}
    return Proposal("builder/bump", "Bump scanner tools", body, "Bump scanner tools", files)


def test_first_proposal_makes_a_branch_a_commit_and_a_pull_request(repo: FakeRepo) -> None:
    pull = client(repo).propose(proposal())
    assert (pull.number, pull.created, pull.committed) == (1, True, True)
    files = repo.files_at("builder/bump")
    assert files["builder.lock"] == b"new lock\n"
    assert files["buildspecs/scanners/Dockerfile"] == b"FROM x\n"
    assert files["README.md"] == b"readme\n"  # the rest of the tree is kept
    assert repo.files_at("main")["builder.lock"] == b"old lock\n"
    (open_pull,) = repo.open_pulls()
    assert (open_pull["head"], open_pull["base"], open_pull["body"]) == ("builder/bump", "main", "one bump")


def test_the_same_proposal_again_changes_nothing(repo: FakeRepo) -> None:
    client(repo).propose(proposal())
    commits, refs = len(repo.commits), dict(repo.refs)
    pull = client(repo).propose(proposal())
    assert (pull.number, pull.created, pull.committed) == (1, False, False)
    assert len(repo.commits) == commits and repo.refs == refs
    assert len(repo.pulls) == 1


def test_a_new_bump_updates_the_open_pull_request(repo: FakeRepo) -> None:
    client(repo).propose(proposal())
    pull = client(repo).propose(proposal(b"newer lock\n", "two bumps"))
    assert (pull.number, pull.created, pull.committed) == (1, False, True)
    assert repo.files_at("builder/bump")["builder.lock"] == b"newer lock\n"
    assert [p["body"] for p in repo.open_pulls()] == ["two bumps"]
    head = repo.commits[repo.refs["builder/bump"]]
    assert [p["sha"] for p in head["parents"]] == [repo.refs["main"]]  # one commit on the base, not a pile


def test_a_moved_base_branch_gets_a_rebuilt_commit(repo: FakeRepo) -> None:
    client(repo).propose(proposal())
    repo.seed({"builder.lock": b"old lock\n", "README.md": b"readme v2\n"})
    pull = client(repo).propose(proposal())
    assert pull.committed and repo.files_at("builder/bump")["README.md"] == b"readme v2\n"


def test_errors_name_the_call_and_never_the_token(repo: FakeRepo) -> None:
    with pytest.raises(UpstreamError) as caught:
        client(repo, token="ghp_wrong_token_abcdefghijk").propose(proposal())
    message = str(caught.value)
    assert message.startswith("GitHub GET /repos/acme/ci-images: HTTP 401 (does the token allow contents")
    assert "ghp_wrong_token_abcdefghijk" not in message
    repo.fail_next = [500] * 10
    with pytest.raises(UpstreamError, match="HTTP 500"):
        client(repo).propose(proposal())


def test_download_writes_the_wanted_files_of_the_default_branch(repo: FakeRepo, tmp_path: Path) -> None:
    repo.seed({"builder.lock": b"lock\n", "images/a/image.yaml": b"base: {}\n", "src/app.py": b"x\n"})
    head = client(repo).download(tmp_path, lambda path: not path.startswith("src/"))
    assert head == repo.refs["main"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "builder.lock",
        "images/a/image.yaml",
    ]
