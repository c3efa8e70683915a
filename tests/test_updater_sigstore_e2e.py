"""A Sigstore-checked bump through the Lambda handler, run from its built zip in a fresh interpreter.

trivy declares a Sigstore bundle per asset; the fake releases carry bundles signed by the fake
Sigstore, whose trusted root the handler is given in its keys folder (BUILDER_KEYS_DIR). A
release signed by another workflow is refused and kept out of the pull request.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes.codeartifact import codeartifact_double
from tests.fakes.github import FakeGitHub, checksum_file
from tests.fakes.github import serve as serve_releases
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.github_pulls import serve as serve_repo
from tests.fakes.osv import FakeOsv
from tests.fakes.osv import serve as serve_osv
from tests.fakes.pypi import SimpleIndex
from tests.fakes.pypi import serve as serve_index
from tests.fakes.sigstore import FakeSigstore
from tests.helpers import run_cli
from tests.test_updater_e2e import DOMAIN, World, metrics, run_handler, unpacked

__all__ = ["unpacked"]  # the module-scoped zip fixture, shared

WORKFLOW = (
    "https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v{version}"
)
TOOLS = f"""\
tools:
  trivy:
    source: github
    repository: aquasecurity/trivy
    checksums: trivy_{{version}}_checksums.txt
    version: ">=0.70,<1"
    install: archive
    assets: {{linux/amd64: "trivy_{{version}}_Linux-64bit.tar.gz", linux/arm64: "trivy_{{version}}_Linux-ARM64.tar.gz"}}
    check: {{command: [trivy, --version], pattern: 'Version:\\s*(\\S+)'}}
    provenance:
      kind: sigstore-bundle
      bundle: "{{asset}}.sigstore.json"
      identity: {WORKFLOW}
"""


def release_signed(fake: FakeGitHub, sigstore: FakeSigstore, version: str, identity: str = WORKFLOW) -> None:
    files = {
        f"trivy_{version}_Linux-{arch}.tar.gz": f"trivy {version} {arch}".encode() * 500
        for arch in ("64bit", "ARM64")
    }
    bundles = {
        f"{name}.sigstore.json": sigstore.bundle_json(
            sigstore.sign_blob(data, identity.replace("{version}", version))
        )
        for name, data in files.items()
    }
    sums = {f"trivy_{version}_checksums.txt": checksum_file(files)}
    fake.release("aquasecurity/trivy", f"v{version}", {**files, **bundles, **sums})


@pytest.fixture
def signed_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[World, FakeSigstore, Path]]:
    sigstore = FakeSigstore()
    keys = tmp_path / "keys"
    (keys / "sigstore").mkdir(parents=True)
    (keys / "sigstore/trusted_root.json").write_text(sigstore.trusted_root_json())
    monkeypatch.setenv("BUILDER_KEYS_DIR", str(keys))
    with serve_releases(FakeGitHub()) as releases, serve_index(SimpleIndex()) as index, serve_repo(FakeRepo()) as repo, \
            codeartifact_double() as (ca_url, ca), serve_osv(osv := FakeOsv()) as osv_url:  # fmt: skip
        ca.create(DOMAIN, "generic-store", "pip-store", "npm-store")
        release_signed(releases, sigstore, "0.74.0")
        root = tmp_path / "project"
        shutil.copytree(REPO / "templates", root / "templates")
        (root / "images/scanners").mkdir(parents=True)
        (root / "images/scanners/image.yaml").write_text("base: {external: debian}\ntools: [trivy]\n")
        (root / "tools.yaml").write_text(TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{releases.url}', github_downloads: '{releases.download_url}', osv: '{osv_url}'}}\n"
            f"indexes: {{pip: '{index.url}'}}\n"
        )
        for args in (("lock",), ("render",)):
            result = run_cli(root, *args)
            assert result.exit_code == 0, result.output
        repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
        yield World(releases, index, repo, ca, ca_url, root, osv), sigstore, keys


def test_the_handler_verifies_a_signed_bump_and_refuses_a_wrongly_signed_one(
    unpacked: Path, signed_world: tuple[World, FakeSigstore, Path], tmp_path: Path
) -> None:
    world, sigstore, keys = signed_world
    release_signed(world.releases, sigstore, "0.75.0")
    code, records, stderr = run_handler(unpacked, world, tmp_path, extra={"BUILDER_KEYS_DIR": str(keys)})
    assert code == 0, json.dumps(records)[-3000:] + stderr[-3000:]
    (pull,) = world.repo.open_pulls()
    lock = world.repo.files_at(pull["head"])["builder.lock"].decode()
    assert "version: 0.75.0" in lock and lock.count("kind: sigstore-bundle") == 2
    assert WORKFLOW.replace("{version}", "0.75.0") in lock

    release_signed(
        world.releases,
        sigstore,
        "0.76.0",
        "https://github.com/evil/trivy/.github/workflows/x.yaml@refs/tags/v{version}",
    )
    code, records, stderr = run_handler(unpacked, world, tmp_path, extra={"BUILDER_KEYS_DIR": str(keys)})
    assert code != 0 and "UpdateFailed: 1 tool(s) failed: trivy" in stderr
    assert metrics(records)["ToolsFailed"] == 1
    assert "Sigstore bundle refused: signed by https://github.com/evil/trivy/" in json.dumps(records)
