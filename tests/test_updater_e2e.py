"""The updater end to end: the Lambda handler, run from its built zip in a fresh interpreter, against fakes.

Fake upstreams publish a new trivy (GitHub releases) and a new bandit (a PyPI index); the handler
reads the project from a fake GitHub repository, verifies and mirrors the new artifacts into a
CodeArtifact double and opens one pull request, whose body says what the bump does to the known
vulnerabilities (a fake OSV API). A second run changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.updating.package import build_zip
from tests.conftest import REPO
from tests.fakes.codeartifact import OWNER, REGION, CodeArtifactState, codeartifact_double
from tests.fakes.github import FakeGitHub, checksum_file
from tests.fakes.github import serve as serve_releases
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.github_pulls import serve as serve_repo
from tests.fakes.npm_registry import NpmRegistry, make_tarball
from tests.fakes.npm_registry import serve as serve_npm
from tests.fakes.osv import FakeOsv, cvss3, ecosystem_range, record
from tests.fakes.osv import serve as serve_osv
from tests.fakes.pypi import SimpleIndex
from tests.fakes.pypi import serve as serve_index
from tests.fakes.wheels import make_wheel
from tests.helpers import run_cli

DOMAIN = "security-tools-domain"
TOOLS = """\
tools:
  trivy:
    source: github
    repository: aquasecurity/trivy
    checksums: trivy_{version}_checksums.txt
    version: ">=0.70,<1"
    install: archive
    assets: {linux/amd64: "trivy_{version}_Linux-64bit.tar.gz", linux/arm64: "trivy_{version}_Linux-ARM64.tar.gz"}
    check: {command: [trivy, --version], pattern: 'Version:\\s*(\\S+)'}
    release_notes: https://github.com/aquasecurity/trivy/releases/tag/v{version}
    audit: {ecosystem: Go, package: github.com/aquasecurity/trivy}
  bandit:
    source: pypi
    package: bandit
    install: python-app
    check: {command: [bandit, --version], pattern: '^bandit (\\S+)'}
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployment zip, built by the project's own command and unpacked as Lambda would (modes kept)."""
    out = tmp_path_factory.mktemp("zip") / "updater.zip"
    build_zip(REPO, out)
    target = tmp_path_factory.mktemp("lambda")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert not any(name.startswith("tests/") for name in names), "no test code in the zip"
        for info in archive.infolist():
            path = Path(archive.extract(info, target))
            path.chmod((info.external_attr >> 16) & 0o777 or 0o644)
    return target


def release_trivy(fake: FakeGitHub, version: str) -> None:
    files = {
        f"trivy_{version}_Linux-{arch}.tar.gz": f"trivy {version} {arch}".encode() * 500
        for arch in ("64bit", "ARM64")
    }
    fake.release(
        "aquasecurity/trivy", f"v{version}", {**files, f"trivy_{version}_checksums.txt": checksum_file(files)}
    )


@dataclass
class World:
    releases: FakeGitHub
    index: SimpleIndex
    repo: FakeRepo
    codeartifact: CodeArtifactState
    codeartifact_url: str
    root: Path
    osv: FakeOsv


def bump_records() -> list[dict[str, object]]:
    """One record the bump fixes (trivy < 0.75.0), one it brings in (bandit 1.9.5, critical), one it keeps."""
    return [
        record("GO-2026-1000", "Go", "github.com/aquasecurity/trivy",
               [ecosystem_range({"introduced": "0"}, {"fixed": "0.75.0"}, kind="SEMVER")],
               database_specific={"severity": "HIGH"}),
        record("PYSEC-2026-9", "PyPI", "bandit", [ecosystem_range({"introduced": "1.9.5"})],
               aliases=["CVE-2026-9999"], severity=cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")),
        record("GHSA-band-it00-keep", "PyPI", "bandit", [ecosystem_range({"introduced": "1.0"}, {"fixed": "2.0"})],
               database_specific={"severity": "LOW"}),
    ]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with serve_releases(FakeGitHub()) as releases, serve_index(SimpleIndex()) as index, serve_repo(FakeRepo()) as repo, \
            codeartifact_double() as (ca_url, ca), serve_osv(osv := FakeOsv()) as osv_url:  # fmt: skip
        osv.add(*bump_records())
        ca.create(DOMAIN, "generic-store", "pip-store", "npm-store")
        release_trivy(releases, "0.74.0")
        index.add(*make_wheel("bandit", "1.9.4"))
        root = tmp_path / "project"
        shutil.copytree(REPO / "templates", root / "templates")
        (root / "images/scanners").mkdir(parents=True)
        (root / "images/scanners/image.yaml").write_text("base: {external: debian}\ntools: [trivy, bandit]\n")
        (root / "tools.yaml").write_text(TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\n"
            f"upstreams: {{github_api: '{releases.url}', github_downloads: '{releases.download_url}', osv: '{osv_url}'}}\n"
            f"indexes: {{pip: '{index.url}'}}\n"
        )
        assert run_cli(root, "lock").exit_code == 0
        assert run_cli(root, "render").exit_code == 0
        repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
        yield World(releases, index, repo, ca, ca_url, root, osv)


def run_handler(
    unpacked: Path, world: World, tmp_path: Path, path: str | None = None, extra: dict[str, str] | None = None
) -> tuple[int, list[dict[str, object]], str]:
    env = {
        "PATH": path or os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "BUILDER_GITHUB_REPOSITORY": f"{world.repo.owner}/{world.repo.name}",
        "BUILDER_GITHUB_TOKEN": world.repo.token,
        "BUILDER_GITHUB_API": world.repo.url,
        "BUILDER_CODEARTIFACT_DOMAIN": DOMAIN,
        "BUILDER_CODEARTIFACT_DOMAIN_OWNER": OWNER,
        "BUILDER_CODEARTIFACT_REGION": REGION,
        "BUILDER_CODEARTIFACT_ENDPOINT": world.codeartifact_url,
        **(extra or {}),
    }
    code = "import sys; sys.path.insert(0, sys.argv[1]); from builder.updating.lambda_handler import handler; handler({}, None)"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(unpacked)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, records, done.stderr


def metrics(records: list[dict[str, object]]) -> dict[str, object]:
    return next(r for r in records if "_aws" in r)


def test_handler_from_the_zip_mirrors_and_proposes_then_a_second_run_is_a_no_op(
    unpacked: Path, world: World, tmp_path: Path
) -> None:
    release_trivy(world.releases, "0.75.0")
    world.index.add(*make_wheel("bandit", "1.9.5"))
    code, records, stderr = run_handler(unpacked, world, tmp_path)
    assert code == 0, json.dumps(records)[-3000:] + stderr[-3000:]
    emf = metrics(records)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "builder/updater"  # type: ignore[index]
    assert (emf["UpdatesFound"], emf["ToolsFailed"], emf["ArtifactsPublished"], emf["ToolsChecked"]) == (
        2,
        0,
        2,
        2,
    )

    stored = world.codeartifact.versions_of("trivy")["0.75.0"]
    assert stored.status == "Published"
    for name, asset in stored.assets.items():
        served = world.releases.asset("aquasecurity/trivy", "v0.75.0", name)
        assert hashlib.sha256(asset.data).hexdigest() == hashlib.sha256(served.data).hexdigest()

    (pull,) = world.repo.open_pulls()
    files = world.repo.files_at(pull["head"])
    lock = files["builder.lock"].decode()
    assert "version: 0.75.0" in lock and "version: 1.9.5" in lock
    body = pull["body"]
    assert body.startswith("> [!CAUTION]\n> **This bump brings in a known critical vulnerability**: "
                           "`PYSEC-2026-9` in bandit 1.9.5 (bandit).")  # fmt: skip
    assert (
        "- fixed: `GO-2026-1000` (high) in github.com/aquasecurity/trivy 0.74.0 (trivy); fixed in 0.75.0"
        in body
    )
    assert "- brought in: `PYSEC-2026-9` (critical 9.8) in bandit 1.9.5 (bandit)" in body
    assert "- still present: `GHSA-band-it00-keep`" in body
    assert b"trivy_0.75.0_Linux-64bit.tar.gz" in files["buildspecs/scanners/Dockerfile"]
    assert b"bandit==1.9.5" in files["buildspecs/scanners/requirements/bandit-amd64.txt"]
    assert (
        "| trivy | 0.74.0 -> **0.75.0** |" in pull["body"]
        and "| bandit | 1.9.4 -> **1.9.5** |" in pull["body"]
    )
    assert world.repo.token not in json.dumps(records) + stderr

    commits, publishes = len(world.repo.commits), len(world.codeartifact.operations("PublishPackageVersion"))
    code, records, stderr = run_handler(unpacked, world, tmp_path)
    assert code == 0, stderr[-3000:]
    # main still has the old lockfile until the pull request merges: the same bump is found, and the
    # pull request, its branch and the store already hold it, so nothing is written anywhere.
    assert (metrics(records)["UpdatesFound"], metrics(records)["ArtifactsPublished"]) == (2, 0)
    assert len(world.repo.commits) == commits and len(world.repo.pulls) == 1
    assert len(world.codeartifact.operations("PublishPackageVersion")) == publishes


def test_a_failing_upstream_still_proposes_the_rest_and_fails_the_invocation(
    unpacked: Path, world: World, tmp_path: Path
) -> None:
    release_trivy(world.releases, "0.75.0")
    world.index.add(*make_wheel("bandit", "1.9.5"))
    world.index.failures = {"/simple/bandit/": [500] * 50}
    code, records, stderr = run_handler(unpacked, world, tmp_path)
    assert code != 0 and "UpdateFailed: 1 tool(s) failed: bandit" in stderr
    assert metrics(records)["ToolsFailed"] == 1
    (pull,) = world.repo.open_pulls()
    assert "| trivy | 0.74.0 -> **0.75.0** |" in pull["body"]
    assert "**Not updated**" in pull["body"] and "`bandit`" in pull["body"]
    assert "version: 1.9.4" in world.repo.files_at(pull["head"])["builder.lock"].decode()


SCANJS = """\
  scanjs:
    source: npm
    package: scanjs
    install: npm-package
    entry_points: [scanjs]
    check: {command: [scanjs, --version], pattern: '(\\S+)'}
"""


@pytest.fixture
def npm_world(world: World, tmp_path: Path) -> Iterator[tuple[World, NpmRegistry]]:
    """The world plus an npm tool, locked here (this machine has npm) before the handler runs."""
    with serve_npm(NpmRegistry()) as registry:
        registry.publish(make_tarball("scanjs", "1.0.0"), time="2024-01-01T00:00:00.000Z")
        root = world.root
        (root / "tools.yaml").write_text(TOOLS + SCANJS)
        (root / "images/scanners/image.yaml").write_text(
            "base: {external: debian}\ntools: [trivy, bandit, scanjs]\n"
        )
        settings, pip = root / "builder.yaml", f"pip: '{world.index.url}'"
        settings.write_text(settings.read_text().replace(pip, f"{pip}, npm: '{registry.url}'"))
        for args in (("lock",), ("render",)):
            result = run_cli(root, *args)
            assert result.exit_code == 0, result.output
        world.repo.seed({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
        yield world, registry


def test_without_npm_an_npm_release_is_deferred_and_the_invocation_succeeds(
    unpacked: Path, npm_world: tuple[World, NpmRegistry], tmp_path: Path
) -> None:
    world, registry = npm_world
    release_trivy(world.releases, "0.75.0")
    registry.publish(make_tarball("scanjs", "1.1.0"), time="2024-02-01T00:00:00.000Z")
    bare = tmp_path / "bin"  # the Lambda's runtime: no npm (nor gpg) on PATH
    bare.mkdir()
    code, records, stderr = run_handler(unpacked, world, tmp_path, path=str(bare))
    assert code == 0, json.dumps(records)[-3000:] + stderr[-3000:]
    emf = metrics(records)
    assert (emf["UpdatesFound"], emf["ToolsFailed"], emf["ToolsDeferred"]) == (1, 0, 1)
    (pull,) = world.repo.open_pulls()
    assert "| trivy | 0.74.0 -> **0.75.0** |" in pull["body"]
    # inert Markdown: the deferral's "->" cannot open an HTML tag
    assert "- `scanjs`: 1.0.0 -\\> 1.1.0 found, not locked here: npm is not installed here" in pull["body"]
    assert "version: 1.0.0" in world.repo.files_at(pull["head"])["builder.lock"].decode().split("scanjs:")[1]
