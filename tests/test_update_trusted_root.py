"""`builder update` refreshes the Sigstore trusted root over TUF with the tool bumps: a change is
proposed in the same pull request, described from the documents; a refused walk fails the run
and proposes nothing of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_pulls import FakeRepo
from tests.fakes.sigstore import FakeSigstore
from tests.fakes.tuf import FakeTuf, serve
from tests.helpers import run_cli
from tests.test_http_credentials import world

ROOT_PATH = "keys/sigstore/trusted_root.json"


@pytest.fixture
def scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRepo, FakeTuf, Path]]:
    """scan 1.0.0 locked, 1.1.0 released; the project keeps its trusted keys in keys/."""
    with world(tmp_path, monkeypatch) as (repo, _releases, root), serve(FakeTuf(b"{}")) as tuf:
        tuf.target = FakeSigstore().trusted_root_json().encode()
        tuf.publish()
        (root / "keys/sigstore").mkdir(parents=True)
        (root / "keys/sigstore/tuf_root.json").write_bytes(tuf.first_root)
        (root / ROOT_PATH).write_bytes(FakeSigstore().trusted_root_json().encode())  # another root
        settings = root / "builder.yaml"
        settings.write_text(
            settings.read_text().replace("upstreams: {", f"upstreams: {{sigstore_tuf: '{tuf.url}', ")
        )
        monkeypatch.setenv("BUILDER_KEYS_DIR", str(root / "keys"))
        monkeypatch.setenv("GITHUB_TOKEN", repo.token)
        yield repo, tuf, root


def _update(repo: FakeRepo, root: Path) -> tuple[int, str]:
    result = run_cli(root, "update", "--open-pr", "--repository", f"{repo.owner}/{repo.name}")
    return result.exit_code, result.output


def test_a_changed_root_rides_in_the_bump_pull_request(scan: tuple[FakeRepo, FakeTuf, Path]) -> None:
    repo, tuf, root = scan
    before = (root / ROOT_PATH).read_bytes()
    code, output = _update(repo, root)
    assert code == 0, output
    (pull,) = repo.open_pulls()
    proposed = repo.files_at("builder/tool-bumps")
    assert proposed[ROOT_PATH] == tuf.target
    assert "keys/sigstore/tuf_root.json" not in proposed  # no rotation: the pinned TUF root stays
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
