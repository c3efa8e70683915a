"""`builder update` refreshes the Sigstore trusted root over TUF with the tool bumps: a change is
proposed in the same pull request, described from the documents; a refused walk fails the run
and proposes nothing of it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.updating.lambda_handler import UpdateFailed, handler
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.sigstore import FakeSigstore
from tests.fakes.tuf import FakeTuf, serve
from tests.helpers import run_cli
from tests.test_http_credentials import world

ROOT_PATH = "keys/sigstore/trusted_root.json"


@pytest.fixture
def scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRepo, FakeTuf, Path]]:
    """scan 1.0.0 locked, 1.1.0 released; the project keeps its trusted keys in keys/."""
    with world(tmp_path, monkeypatch) as (repo, _releases, root), serve(FakeTuf()) as tuf:
        tuf.target = FakeSigstore().trusted_root_json().encode()
        tuf.publish()
        (root / "keys/sigstore").mkdir(parents=True)
        (root / "keys/sigstore/tuf_root.json").write_bytes(tuf.first_root)
        (root / ROOT_PATH).write_bytes(FakeSigstore().trusted_root_json().encode())  # another root
        settings = root / "builder.yaml"
        settings.write_text(
            settings.read_text().replace("upstreams: {", f"upstreams: {{sigstore_tuf: '{tuf.url}', ")
        )
        repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
        monkeypatch.setenv("BUILDER_KEYS_DIR", str(root / "keys"))
        monkeypatch.setenv("GITHUB_TOKEN", repo.token)
        yield repo, tuf, root


def _update(repo: FakeRepo, root: Path) -> tuple[int, str]:
    result = run_cli(root, "update", "--open-pr", "--repository", f"{repo.owner}/{repo.name}")
    return result.exit_code, result.output


def _handler(repo: FakeRepo, root: Path, keys_path: str = "keys") -> tuple[int, str]:
    """The Lambda: the project, and its keys folder (BUILDER_KEYS_PATH), read from the repository."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env:
        env.delenv("BUILDER_KEYS_DIR")
        for name, value in (("BUILDER_GITHUB_REPOSITORY", f"{repo.owner}/{repo.name}"),
                            ("BUILDER_GITHUB_TOKEN", repo.token), ("BUILDER_GITHUB_API", repo.url),
                            ("BUILDER_KEYS_PATH", keys_path)):  # fmt: skip
            env.setenv(name, value)
        try:
            handler({}, None, out)
        except UpdateFailed:
            return 1, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize("front", [_update, _handler], ids=["cli", "lambda"])
def test_a_changed_root_rides_in_the_bump_pull_request(
    scan: tuple[FakeRepo, FakeTuf, Path], front: object
) -> None:
    repo, tuf, root = scan
    before = (root / ROOT_PATH).read_bytes()
    code, output = front(repo, root)  # type: ignore[operator]
    assert code == 0, output
    (pull,) = repo.open_pulls()
    proposed = repo.files_at("builder/tool-bumps")
    assert proposed[ROOT_PATH] == tuf.target
    assert proposed["keys/sigstore/tuf_root.json"] == tuf.first_root  # no rotation: the pinned one stays
    assert (
        "**The Sigstore trusted root changed** (verified over TUF; `keys/sigstore/trusted_root.json`)"
        in pull["body"]
    )
    assert "- added transparency log `" in pull["body"] and "- removed transparency log `" in pull["body"]
    assert (root / ROOT_PATH).read_bytes() == before  # proposed, not written into the checkout
    assert "scan 1.1.0" in pull["title"]


def test_a_current_root_adds_nothing(scan: tuple[FakeRepo, FakeTuf, Path]) -> None:
    repo, tuf, root = scan
    (root / ROOT_PATH).write_bytes(tuf.target)
    repo.seed({**repo.files_at(repo.default_branch), ROOT_PATH: tuf.target})
    code, output = _update(repo, root)
    assert code == 0, output
    (pull,) = repo.open_pulls()
    assert "trusted root" not in pull["body"]
    assert repo.files_at("builder/tool-bumps")[ROOT_PATH] == tuf.target  # as on the base branch


def test_a_refused_walk_fails_the_run_and_proposes_only_the_bumps(
    scan: tuple[FakeRepo, FakeTuf, Path],
) -> None:
    repo, tuf, root = scan
    tuf.publish(timestamp_days=-1)
    code, output = _update(repo, root)
    assert code == 1
    assert (
        f"error: Sigstore trusted root: the TUF repository {tuf.url} refused: ExpiredMetadataError" in output
    )
    (pull,) = repo.open_pulls()
    assert "**Not updated**" in pull["body"] and "Sigstore trusted root" in pull["body"]
    assert "The Sigstore trusted root changed" not in pull["body"]


@pytest.mark.parametrize("path", ["../keys", "/etc", "keys/../../x", "keys\nx"])
def test_a_keys_path_outside_the_repository_is_refused(
    scan: tuple[FakeRepo, FakeTuf, Path], path: str
) -> None:
    repo, _, root = scan
    code, output = _handler(repo, root, path)
    assert code == 1 and "must be a relative folder path inside the repository" in output
    assert repo.open_pulls() == []
