"""`builder lock` through the CLI against a fake GitHub: what it writes, and what it never half-writes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.config.platforms import Platform
from builder.locking.evidence import ChecksumFile
from builder.locking.lockfile import load_lockfile
from tests.fakes.github import Failure, FakeGitHub, checksum_file, serve
from tests.fakes.pgp import KeySet
from tests.helpers import run_cli
from tests.terraform_bump import stranger_signed_bump

AMD64 = Platform("linux", "amd64")
TOOLS = """\
tools:
  scan:
    source: github
    repository: acme/scan
    checksums: scan_{version}_checksums.txt
    version: ">=1.0,<2"
    install: archive
    assets: {linux/amd64: "scan_{version}_amd64.tar.gz", linux/arm64: "scan_{version}_arm64.tar.gz"}
    check: {command: [scan, --version], pattern: '(\\S+)'}
  lint:
    source: github
    repository: acme/lint
    checksums: checksums.txt
    install: binary
    assets: {linux/amd64: lint-amd64, linux/arm64: lint-arm64}
    check: {command: [lint, --version], pattern: '(\\S+)'}
"""


def publish(
    fake: FakeGitHub, repo: str, version: str, names: list[str], sums: str, bad: bool = False
) -> None:
    files = {name.format(version=version): f"{repo} {version} {name}".encode() for name in names}
    listed = {n: (d + b"!" if bad else d) for n, d in files.items()}
    fake.release(repo, f"v{version}", {**files, sums.format(version=version): checksum_file(listed)})


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as github:
        for version in ("1.0.0", "1.1.0"):
            publish(github, "acme/scan", version, ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
                    "scan_{version}_checksums.txt")  # fmt: skip
        publish(github, "acme/lint", "0.3.0", ["lint-amd64", "lint-arm64"], "checksums.txt")
        yield github


@pytest.fixture
def project(tmp_path: Path, fake: FakeGitHub) -> Path:
    root = tmp_path / "project"
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan, lint]\n")
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{fake.url}', github_downloads: '{fake.download_url}'}}\n"
    )
    return root


def test_lock_writes_verified_entries_then_has_nothing_to_do(project: Path, fake: FakeGitHub) -> None:
    result = run_cli(project, "lock")
    assert result.exit_code == 0, result.output
    lock = load_lockfile(project)
    assert lock.tools["scan"].version == "1.1.0" and lock.tools["lint"].version == "0.3.0"
    records = {r for artifact in lock.tools["scan"].payload.files.values() for r in artifact.evidence}
    assert (ChecksumFile, "scan_1.1.0_checksums.txt") in {(type(r), getattr(r, "file", "")) for r in records}
    assert run_cli(project, "lock", "--check").exit_code == 0
    before, asked = (project / "builder.lock").read_bytes(), len(fake.requests)
    result = run_cli(project, "lock")
    assert "builder.lock is up to date" in result.output
    assert len(fake.requests) == asked  # nothing stale: no upstream asked
    assert (project / "builder.lock").read_bytes() == before


def test_upgrade_moves_only_what_has_a_new_release(project: Path, fake: FakeGitHub) -> None:
    assert run_cli(project, "lock").exit_code == 0
    publish(fake, "acme/scan", "1.2.0", ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
            "scan_{version}_checksums.txt")  # fmt: skip
    publish(fake, "acme/scan", "2.0.0", ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
            "scan_{version}_checksums.txt")  # fmt: skip
    result = run_cli(project, "lock", "--upgrade")
    assert result.exit_code == 0, result.output
    assert "scan: 1.1.0 -> 1.2.0" in result.output
    assert "lint:" not in result.output.replace("current    lint", "")
    assert load_lockfile(project).tools["scan"].version == "1.2.0"


def test_a_tampered_checksum_fails_and_leaves_the_lockfile_byte_identical(
    project: Path, fake: FakeGitHub
) -> None:
    assert run_cli(project, "lock").exit_code == 0
    before = (project / "builder.lock").read_bytes()
    publish(fake, "acme/scan", "1.3.0", ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
            "scan_{version}_checksums.txt", bad=True)  # fmt: skip
    result = run_cli(project, "lock", "--upgrade")
    assert result.exit_code == 1
    assert "error: scan: sha256 mismatch for scan (linux/amd64)" in result.output
    assert "builder.lock left unchanged: 1 tool(s) failed (--partial keeps the others)" in result.output
    assert (project / "builder.lock").read_bytes() == before


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_upstream_keeps_the_others_only_with_partial(
    project: Path, fake: FakeGitHub, status: int
) -> None:
    assert run_cli(project, "lock").exit_code == 0
    before = (project / "builder.lock").read_bytes()
    publish(fake, "acme/lint", "0.4.0", ["lint-amd64", "lint-arm64"], "checksums.txt")
    publish(fake, "acme/scan", "1.4.0", ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
            "scan_{version}_checksums.txt")  # fmt: skip
    fake.fail("/repos/acme/scan/releases?per_page=100", *[Failure(status)] * 20)
    result = run_cli(project, "lock", "--upgrade")
    assert result.exit_code == 1
    assert f"HTTP {status}" in result.output
    assert (project / "builder.lock").read_bytes() == before
    result = run_cli(project, "lock", "--upgrade", "--partial")
    assert result.exit_code == 1
    assert "wrote builder.lock: 1 locked, 0 removed; kept the old entries of scan" in result.output
    lock = load_lockfile(project)
    assert (lock.tools["lint"].version, lock.tools["scan"].version) == ("0.4.0", "1.1.0")


def test_unknown_tool_is_a_usage_error(project: Path) -> None:
    result = run_cli(project, "lock", "scna")
    assert result.exit_code == 2
    assert "no tool named 'scna' (did you mean 'scan'?)" in result.output


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (Failure.retry_after(429, 7200), "rate limited for 7200 s more"),
        (Failure.rate_limit_exhausted(4_000_000_000), "set GITHUB_TOKEN for a higher limit"),
    ],
)
def test_rate_limits_beyond_the_wait_fail_cleanly(
    project: Path, fake: FakeGitHub, failure: Failure, expected: str
) -> None:
    assert run_cli(project, "lock").exit_code == 0
    before = (project / "builder.lock").read_bytes()
    fake.fail("/repos/acme/lint/releases?per_page=100", failure)
    result = run_cli(project, "lock", "--upgrade", "lint")
    assert result.exit_code == 1
    assert expected in result.output
    assert (project / "builder.lock").read_bytes() == before


def test_a_bad_signature_fails_lock_and_leaves_the_lockfile_byte_identical(
    tmp_path: Path, keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stranger_signed_bump(tmp_path, keys, monkeypatch, trust_stranger=False) as bump:
        result = run_cli(bump.root, "lock", "--upgrade")
    assert result.exit_code == 1
    assert "terraform_1.15.9_SHA256SUMS: signature does not verify" in result.output
    assert (bump.root / "builder.lock").read_bytes() == bump.locked
    assert not any(path.endswith(".zip") for path in bump.fake.paths()[-4:])


def test_a_released_version_whose_bytes_changed_is_never_repinned_silently(
    project: Path, fake: FakeGitHub
) -> None:
    """A platform added makes scan's entry stale with its version unchanged: lock downloads 1.1.0 again.
    The upstream re-published v1.1.0 with other bytes meanwhile: that fails, naming both digests."""
    image = project / "images/tools/image.yaml"
    image.write_text(image.read_text() + "platforms: [linux/amd64]\n")
    assert run_cli(project, "lock").exit_code == 0
    locked = load_lockfile(project).tools["scan"].payload.files
    before = (project / "builder.lock").read_bytes()
    names = ["scan_1.1.0_amd64.tar.gz", "scan_1.1.0_arm64.tar.gz"]
    replaced = {name: f"replaced {name}".encode() for name in names}
    fake.release("acme/scan", "v1.1.0", {**replaced, "scan_1.1.0_checksums.txt": checksum_file(replaced)})
    image.write_text(image.read_text().replace("[linux/amd64]", "[linux/amd64, linux/arm64]"))

    result = run_cli(project, "lock")
    assert result.exit_code == 1, result.output
    old_digest = next(iter(locked.values())).sha256
    new_digest = hashlib.sha256(replaced["scan_1.1.0_amd64.tar.gz"]).hexdigest()
    assert "the upstream changed a released version: scan 1.1.0" in result.output
    assert f"was sha256 {old_digest}, is now sha256 {new_digest}" in result.output
    assert "builder lock --repin scan" in result.output
    assert (project / "builder.lock").read_bytes() == before
    assert run_cli(project, "lock", "--upgrade").exit_code == 1  # the same, asked to upgrade
    assert run_cli(project, "lock", "--partial").exit_code == 1
    assert load_lockfile(project).tools["scan"].payload.files == locked  # --partial kept the old entry

    result = run_cli(project, "lock", "--repin", "scan")
    assert result.exit_code == 0, result.output
    assert load_lockfile(project).tools["scan"].payload.files[AMD64].sha256 == new_digest


def test_repin_re_reads_a_current_entry_and_changes_nothing_when_bytes_are_the_same(
    project: Path, fake: FakeGitHub
) -> None:
    assert run_cli(project, "lock").exit_code == 0
    before, asked = (project / "builder.lock").read_bytes(), len(fake.requests)
    result = run_cli(project, "lock", "--repin", "scan")
    assert result.exit_code == 0, result.output
    assert len(fake.requests) > asked  # scan was asked again although its entry was current
    assert (project / "builder.lock").read_bytes() == before
