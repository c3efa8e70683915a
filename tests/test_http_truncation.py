"""Downloads cut short: retried like any transient failure, then named by tool, version, platform and bytes.

The message once was requests' raw tuple (``('Connection broken: IncompleteRead(226 bytes read, 226
more expected)', ...)``) with no word of which artifact, and nothing tried it again.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.fetch import fetch
from builder.config.platforms import Platform
from builder.config.settings import HttpSettings
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile
from builder.plumbing.http import make_session
from builder.plumbing.progress import Progress
from builder.stores.base import ArtifactRef
from builder.stores.local import LocalStore
from tests.fakes.evidence import TESTED
from tests.fakes.files import Files
from tests.fakes.files import serve as serve_files
from tests.fakes.github import Failure, FakeGitHub, checksum_file, serve
from tests.helpers import run_cli

AMD64 = Platform("linux", "amd64")
DATA = bytes(range(226)) * 2  # 452 bytes: a cut after 226 is half of it


@pytest.fixture
def files() -> Iterator[Files]:
    with serve_files(Files()) as running:
        yield running


def served_ref(files: Files, name: str, url_prefix: str = "") -> ArtifactRef:
    url = files.add(f"/dl/{name}", DATA)
    if url_prefix:
        url = url.replace("http://", url_prefix)
    return ArtifactRef(
        "solo",
        "0.9.0",
        AMD64,
        Artifact(name, url, hashlib.sha256(DATA).hexdigest(), len(DATA), evidence=TESTED),
    )


def test_a_download_cut_short_once_is_retried_and_stored(files: Files, tmp_path: Path) -> None:
    ref = served_ref(files, "solo-linux-amd64")
    files.cuts["/dl/solo-linux-amd64"] = [226]
    store = LocalStore(tmp_path / "store")
    report = fetch([ref], store, Progress(1, io.StringIO()), make_session(), limits=HttpSettings(retries=2))
    assert (report.downloaded, report.failed) == ([ref], [])
    assert files.requests == ["/dl/solo-linux-amd64"] * 2
    assert store.has(ref)


def test_fetch_names_the_artifact_and_the_bytes_of_a_download_that_stays_short(
    files: Files, tmp_path: Path, minimal_project: Path
) -> None:
    ref = served_ref(files, "solo-linux-amd64", url_prefix="http://mirror:s3cr3t0pass@")
    files.cuts["/dl/solo-linux-amd64"] = [226] * 5
    write_lockfile(
        minimal_project,
        Lockfile().with_tool(LockedTool("solo", "0.9.0", Artifacts({AMD64: ref.artifact}))),
    )
    (minimal_project / "images/scanners/image.yaml").write_text(
        "base: {image: base}\ntools: [solo]\nplatforms: [linux/amd64]\n"
    )
    (minimal_project / "builder.yaml").write_text(
        f"store: {{kind: local, path: '{tmp_path / 'cache'}'}}\nbase_images: {{debian: {{ref: x:1}}}}\nhttp: {{retries: 1}}\n"
    )
    result = run_cli(minimal_project, "fetch", "scanners")
    assert result.exit_code == 1
    shown = ref.artifact.url.replace("s3cr3t0pass", "****")
    assert (
        f"error: solo 0.9.0 (linux/amd64) solo-linux-amd64: GET {shown}: "
        "the answer was cut short after 226 of 452 bytes; gave up after 2 attempts"
    ) in result.output
    assert "s3cr3t0pass" not in result.output and "IncompleteRead" not in result.output
    assert files.requests == ["/dl/solo-linux-amd64"] * 2
    assert not list((tmp_path / "cache").rglob("solo-linux-amd64"))


TOOLS = """\
tools:
  scan:
    source: github
    repository: acme/scan
    checksums: checksums.txt
    install: binary
    assets: {linux/amd64: scan-amd64, linux/arm64: scan-arm64}
    check: {command: [scan], pattern: '(\\S+)'}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, FakeGitHub]]:
    with serve(FakeGitHub()) as fake:
        assets = {"scan-amd64": DATA, "scan-arm64": DATA[::-1]}
        fake.release("acme/scan", "v1.0.0", {**assets, "checksums.txt": checksum_file(assets)})
        root = tmp_path / "project"
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan]\n")
        (root / "tools.yaml").write_text(TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{fake.url}', github_downloads: '{fake.download_url}'}}\n"
            f"store: {{kind: local, path: '{tmp_path / 'cache'}'}}\nhttp: {{retries: 1}}\n"
        )
        yield root, fake


def test_lock_retries_a_release_asset_cut_short(project: tuple[Path, FakeGitHub]) -> None:
    root, fake = project
    fake.fail("/download/acme/scan/v1.0.0/scan-arm64", Failure.truncated(226))
    result = run_cli(root, "lock")
    assert result.exit_code == 0, result.output
    locked = load_lockfile(root).tools["scan"].payload.files[Platform("linux", "arm64")]
    assert locked.sha256 == hashlib.sha256(DATA[::-1]).hexdigest()
    assert [r.status for r in fake.requests if r.path.endswith("/scan-arm64")] == [200, 200]


def test_lock_names_tool_version_platform_and_bytes_of_an_asset_that_stays_short(
    project: tuple[Path, FakeGitHub],
) -> None:
    root, fake = project
    path = "/download/acme/scan/v1.0.0/scan-arm64"
    fake.fail(path, *[Failure.truncated(226)] * 5)
    result = run_cli(root, "lock")
    assert result.exit_code == 1
    assert (
        f"error: scan: scan 1.0.0 (linux/arm64): cannot download scan-arm64: GET {fake.download_url}{path}: "
        "the answer was cut short after 226 of 452 bytes; gave up after 2 attempts"
    ) in result.output
    assert "IncompleteRead" not in result.output and not (root / "builder.lock").exists()
    assert sum(1 for r in fake.requests if r.path == path) == 2
