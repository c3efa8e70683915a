"""The bump pull request removes rendered files the new render no longer produces, and only those.

The base branch no longer has the tool `safety`, but its committed render still holds safety's
requirements files and an npm folder: the updater's commit deletes them along with bumping bandit.
It runs through `builder update --open-pr` (the project's github_api is the fake GitHub) and
through the Lambda handler, which reads the base branch through the API instead of a checkout.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.plumbing.http import make_session
from builder.updating.lambda_handler import handler
from builder.updating.pull_requests import GitHubClient, Proposal
from tests.conftest import REPO
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.github_pulls import serve as serve_repo
from tests.fakes.pypi import SimpleIndex
from tests.fakes.pypi import serve as serve_index
from tests.fakes.wheels import make_wheel
from tests.helpers import run_cli

BANDIT = """\
  bandit:
    source: pypi
    package: bandit
    install: python-app
    check: {command: [bandit, --version], pattern: '^bandit (\\S+)'}
"""
SAFETY = """\
  safety:
    source: pypi
    package: safety
    install: python-app
    check: {command: [safety, --version], pattern: '^safety (\\S+)'}
"""
# An npm tool's folder, left by a tool that was removed from the image before this test begins.
NPM_FOLDER = {
    "buildspecs/scanners/npm/eslint/package.json": b'{"name": "builder-eslint"}\n',
    "buildspecs/scanners/npm/eslint/package-lock.json": b'{"lockfileVersion": 3}\n',
}
STALE = {
    "buildspecs/scanners/requirements/safety-amd64.txt",
    "buildspecs/scanners/requirements/safety-arm64.txt",
    *NPM_FOLDER,
}
# Look-alikes outside buildspecs/ that no render produces: never deleted.
OUTSIDE = {
    "README.md": b"readme\n",
    "docs/requirements/safety-amd64.txt": b"kept\n",
    "buildspecs.bak/scanners/requirements/safety-amd64.txt": b"kept\n",
    "images/scanners/requirements/safety-amd64.txt": b"kept\n",
}


@dataclass
class World:
    index: SimpleIndex
    repo: FakeRepo
    root: Path  # the local checkout, equal to the base branch


def committed_project(root: Path, repo: FakeRepo, index: SimpleIndex) -> None:
    """Render with safety, then drop safety from the definitions: the render on main is stale."""
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "images/scanners").mkdir(parents=True)
    (root / "images/scanners/image.yaml").write_text("base: {external: debian}\ntools: [bandit, safety]\n")
    (root / "tools.yaml").write_text(f"tools:\n{BANDIT}{SAFETY}")
    (root / "builder.yaml").write_text(
        f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{repo.url}'}}\n"
        f"indexes: {{pip: '{index.url}'}}\n"
    )
    for args in (("lock",), ("render",)):  # two Python apps, resolved at once
        result = run_cli(root, *args)
        assert result.exit_code == 0, result.output
    (root / "images/scanners/image.yaml").write_text("base: {external: debian}\ntools: [bandit]\n")
    (root / "tools.yaml").write_text(f"tools:\n{BANDIT}")
    for path, data in {**NPM_FOLDER, **OUTSIDE}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serve_index(SimpleIndex()) as index, serve_repo(FakeRepo()) as repo:
        index.add(*make_wheel("bandit", "1.9.4"))
        index.add(*make_wheel("safety", "3.2.0"))
        committed_project(tmp_path / "project", repo, index)
        monkeypatch.setenv("GITHUB_TOKEN", repo.token)
        monkeypatch.delenv("BUILDER_GITHUB_REPOSITORY", raising=False)
        yield World(index, repo, tmp_path / "project")


def open_pr(world: World) -> str:
    result = run_cli(world.root, "update", "--open-pr", "--repository", "acme/ci-images")
    assert result.exit_code == 0, result.output
    return result.output


def assert_stale_files_deleted(repo: FakeRepo) -> None:
    """The branch is the base minus the stale files, plus the new lockfile and render: nothing else moved."""
    (pull,) = repo.open_pulls()
    base, head = repo.files_at("main"), repo.files_at(pull["head"])
    assert set(base) - set(head) == STALE
    assert set(head) <= set(base)
    changed = {path for path in head if head[path] != base[path]}
    assert changed == {
        "builder.lock",
        "buildspecs/scanners/Dockerfile",
        "buildspecs/scanners/buildspec.yml",
        "buildspecs/scanners/manifest.yml",
        "buildspecs/scanners/requirements/bandit-amd64.txt",
        "buildspecs/scanners/requirements/bandit-arm64.txt",
    }
    assert b"bandit==1.9.5" in head["buildspecs/scanners/requirements/bandit-amd64.txt"]
    assert b"safety" not in head["buildspecs/scanners/Dockerfile"]
    assert all(head[path] == data for path, data in OUTSIDE.items())


def test_the_pull_request_deletes_stale_rendered_files_and_keeps_the_rest(world: World) -> None:
    world.index.add(*make_wheel("bandit", "1.9.5"))
    output = open_pr(world)
    assert "pull request #1: https://github.example.test/acme/ci-images/pull/1" in output
    assert "bandit: 1.9.4 -> 1.9.5" in output
    assert_stale_files_deleted(world.repo)
    (pull,) = world.repo.open_pulls()
    assert "| bandit | 1.9.4 -> **1.9.5** |" in pull["body"]
    assert world.repo.files_at("main")["buildspecs/scanners/requirements/safety-amd64.txt"]  # main untouched


def test_a_second_run_with_nothing_new_makes_no_commit(world: World) -> None:
    world.index.add(*make_wheel("bandit", "1.9.5"))
    open_pr(world)
    commits, refs, calls = len(world.repo.commits), dict(world.repo.refs), len(world.repo.calls)
    open_pr(world)  # main has not merged the bump: the same bump, the same tree, no new commit
    assert (len(world.repo.commits), world.repo.refs, len(world.repo.pulls)) == (commits, refs, 1)
    assert [call for call in world.repo.calls[calls:] if call[1].endswith("/git/commits")] == []
    assert_stale_files_deleted(world.repo)

    world.index.files.pop("bandit-1.9.5-py3-none-any.whl")
    calls = len(world.repo.calls)
    output = open_pr(world)  # no upstream has anything new: GitHub is not even asked
    assert "update: 0 updates" in output and world.repo.calls[calls:] == []


def test_a_stale_file_only_in_the_checkout_is_not_deleted_from_the_branch(world: World) -> None:
    # GitHub refuses to delete a path its tree lacks (the fake answers 422 as it does), so a
    # leftover that was never committed must not become a deletion.
    (world.root / "buildspecs/scanners/requirements/local-only.txt").write_text("untracked\n")
    world.index.add(*make_wheel("bandit", "1.9.5"))
    open_pr(world)
    assert_stale_files_deleted(world.repo)


def test_open_pr_takes_the_repository_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDER_GITHUB_REPOSITORY", f"{world.repo.owner}/{world.repo.name}")
    world.index.add(*make_wheel("bandit", "1.9.5"))
    result = run_cli(world.root, "update", "--open-pr")
    assert result.exit_code == 0, result.output
    assert "pull request #1:" in result.output
    (pull,) = world.repo.open_pulls()
    assert (pull["head"], pull["base"]) == ("builder/tool-bumps", "main")


def test_open_pr_with_a_rejected_token_fails_without_showing_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_rejected_token_abcdefghij")
    world.index.add(*make_wheel("bandit", "1.9.5"))
    result = run_cli(world.root, "update", "--open-pr", "--repository", "acme/ci-images")
    assert result.exit_code == 1
    assert "GitHub GET /repos/acme/ci-images: HTTP 401" in result.output
    assert "ghp_rejected_token_abcdefghij" not in result.output
    assert world.repo.pulls == [] and set(world.repo.refs) == {"main"}


def test_the_lambda_deletes_what_the_downloaded_base_branch_holds(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(world.root)  # the Lambda has no checkout: it reads the base branch through the API
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its work folder, kept out of /tmp
    monkeypatch.setenv("BUILDER_GITHUB_API", world.repo.url)
    monkeypatch.setenv("BUILDER_GITHUB_REPOSITORY", f"{world.repo.owner}/{world.repo.name}")
    monkeypatch.setenv("BUILDER_GITHUB_TOKEN", world.repo.token)
    monkeypatch.delenv("BUILDER_CODEARTIFACT_DOMAIN", raising=False)
    world.index.add(*make_wheel("bandit", "1.9.5"))
    summary = handler({}, None, io.StringIO())
    assert summary["pull_request"] == "https://github.example.test/acme/ci-images/pull/1"
    assert_stale_files_deleted(world.repo)


def test_the_client_deletes_only_what_the_base_tree_holds_and_a_write_wins(world: World) -> None:
    client = GitHubClient(make_session(backoff=0.01), world.repo.url, "acme/ci-images", world.repo.token)
    stale = "buildspecs/scanners/requirements/safety-amd64.txt"
    deletes = frozenset({stale, "buildspecs/never-committed.txt", "README.md"})
    proposal = Proposal("builder/prune", "Prune", "body", "Prune", {"README.md": b"rewritten\n"}, deletes)
    pull = client.propose(proposal)
    head = world.repo.files_at("builder/prune")
    assert pull.committed and stale not in head and head["README.md"] == b"rewritten\n"
    assert set(world.repo.files_at("main")) - set(head) == {stale}
