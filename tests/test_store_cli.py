"""`builder store init | verify | prune` against the CodeArtifact double, with artifacts from a fake upstream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.config.platforms import Platform
from builder.config.settings import CodeArtifact
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile
from builder.stores.base import ArtifactRef
from builder.stores.codeartifact import CodeArtifactStore
from tests.fakes.codeartifact import OWNER, REGION, CodeArtifactState, codeartifact_double, make_client
from tests.fakes.evidence import TESTED
from tests.fakes.files import Files, serve
from tests.helpers import run_cli

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
DOMAIN = "security-tools-domain"


@dataclass
class World:
    root: Path
    files: Files
    ca: CodeArtifactState
    url: str


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with serve(Files()) as files, codeartifact_double() as (url, ca):
        monkeypatch.setenv("BUILDER_CODEARTIFACT_ENDPOINT", url)
        ca.create(DOMAIN, "generic-store", "pip-store", "npm-store")
        root = tmp_path / "project"
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan]\n")
        (root / "tools.yaml").write_text(
            "tools:\n  scan:\n    source: github\n    repository: acme/scan\n    install: binary\n"
            "    assets: {linux/amd64: scan-amd64, linux/arm64: scan-arm64}\n"
            "    check: {command: [scan], pattern: '(\\S+)'}\n"
        )
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nstore:\n  kind: codeartifact\n  codeartifact:\n"
            f"    domain: {DOMAIN}\n    domain_owner: '{OWNER}'\n    region: {REGION}\n"
        )
        artifacts = {}
        for platform in (AMD64, ARM64):
            data = f"scan 1.2.0 {platform}".encode()
            name = f"scan-{platform.arch}"
            artifacts[platform] = Artifact(
                name,
                files.add(f"/{name}", data),
                hashlib.sha256(data).hexdigest(),
                len(data),
                evidence=TESTED,
            )
        write_lockfile(root, Lockfile({"scan": LockedTool("scan", "1.2.0", Artifacts(artifacts))}))
        yield World(root, files, ca, url)


def test_init_seeds_the_generic_repository_once_and_verify_agrees(world: World) -> None:
    result = run_cli(world.root, "store", "init")
    assert result.exit_code == 0, result.output
    assert "ok    generic repository generic-store" in result.output
    assert "store init: 2 published, 0 already there, 0 failed, 0 repository problem(s)" in result.output
    assert world.ca.versions_of("scan")["1.2.0"].status == "Published"
    result = run_cli(world.root, "store", "init")
    assert "store init: 0 published, 2 already there" in result.output
    result = run_cli(world.root, "store", "verify")
    assert result.exit_code == 0, result.output
    assert "store verify: 2 of 2 locked artifacts in the codeartifact store" in result.output


def test_verify_names_what_is_missing_and_what_differs(world: World) -> None:
    assert run_cli(world.root, "store", "init").exit_code == 0
    lock = load_lockfile(world.root)
    scan = lock.tools["scan"]
    changed = {
        **scan.payload.files,
        AMD64: Artifact("scan-amd64", scan.payload.files[AMD64].url, "a" * 64, 1, evidence=TESTED),
    }
    extra = LockedTool("scan", "1.2.0", Artifacts(changed))
    write_lockfile(world.root, lock.with_tool(extra))
    result = run_cli(world.root, "store", "verify")
    assert result.exit_code == 1
    assert (
        f"scan 1.2.0 (linux/amd64) scan-amd64: differs: the store has sha256 {scan.payload.files[AMD64].sha256}"
        in result.output
    )
    assert "store verify: 1 of 2 locked artifacts" in result.output


def test_verify_reports_missing_artifacts(world: World) -> None:
    result = run_cli(world.root, "store", "verify")
    assert result.exit_code == 1
    assert "scan 1.2.0 (linux/amd64) scan-amd64: missing" in result.output


def test_prune_keeps_the_newest_and_the_locked_version(world: World, tmp_path: Path) -> None:
    store = CodeArtifactStore(make_client(world.url), CodeArtifact(DOMAIN, OWNER, REGION))
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"):
        data = f"scan {version}".encode()
        path = tmp_path / version
        path.write_bytes(data)
        ref = ArtifactRef(
            "scan",
            version,
            AMD64,
            Artifact("scan-amd64", "x", hashlib.sha256(data).hexdigest(), len(data), evidence=TESTED),
        )
        store.put(ref, path)
        store.finish("scan", version)
    result = run_cli(world.root, "store", "prune", "--keep", "1")
    assert result.exit_code == 0, result.output
    assert "scan: disposed 1.0.0, 1.1.0, 1.3.0" in result.output  # 1.2.0 is locked, 1.4.0 is newest
    statuses = {v: info.status for v, info in world.ca.versions_of("scan").items()}
    assert statuses == {
        "1.0.0": "Disposed",
        "1.1.0": "Disposed",
        "1.2.0": "Published",
        "1.3.0": "Disposed",
        "1.4.0": "Published",
    }


def test_store_commands_need_codeartifact(world: World) -> None:
    (world.root / "builder.yaml").write_text("base_images: {debian: {ref: 'x:1'}}\n")
    result = run_cli(world.root, "store", "init")
    assert result.exit_code == 1
    assert "builder.yaml's store is local: `builder fetch` fills it" in result.output
