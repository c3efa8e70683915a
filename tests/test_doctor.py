"""`builder doctor` against fakes: one line per check, ok or what to fix, exit 1 when anything fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.codeartifact import OWNER, REGION, CodeArtifactState, codeartifact_double
from tests.fakes.files import Files, serve
from tests.helpers import run_cli
from tests.registry import Registry, free_port


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Files, CodeArtifactState]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTINGDOCTOR123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_doctor_token_0123456789")
    with serve(Files()) as files, codeartifact_double() as (url, ca):
        monkeypatch.setenv("BUILDER_CODEARTIFACT_ENDPOINT", url)
        ca.create("security-tools-domain", "generic-store", "pip-store", "npm-store")
        files.add("/rate_limit", json.dumps({"resources": {"core": {"remaining": 4999}}}).encode())
        files.add("/terraform/index.json", b"{}")
        files.add("/dist/index.json", b"[]")
        root = tmp_path / "project"
        (root / "images").mkdir(parents=True)
        (root / "tools.yaml").write_text("tools: {}\n")
        (root / "builder.yaml").write_text(
            "store:\n  kind: codeartifact\n  codeartifact:\n    domain: security-tools-domain\n"
            f"    domain_owner: '{OWNER}'\n    region: {REGION}\n"
            f"upstreams: {{github_api: '{files.url}', hashicorp_releases: '{files.url}', nodejs: '{files.url}'}}\n"
            f"indexes: {{pip: '{files.url}/simple/'}}\n"
        )
        files.add("/simple/", b"<html></html>")
        yield root, files, ca


def test_everything_in_place(world: tuple[Path, Files, CodeArtifactState]) -> None:
    root, _, _ = world
    result = run_cli(root, "doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("ok    docker        BuildKit through") for line in lines)
    assert "ok    aws           credentials from env (key ...R123)" in lines
    assert "ok    codeartifact  generic repository generic-store" in lines
    assert "ok    github token  GITHUB_TOKEN accepted, 4999 requests left this hour" in lines
    assert (
        "ok    registry      builder: local image names only (set registry in builder.yaml to push)" in lines
    )
    assert "doctor: 12 ok, 0 to fix" in result.output


def test_each_problem_says_what_to_do(world: tuple[Path, Files, CodeArtifactState], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root, files, ca = world
    ca.fail("GetAuthorizationToken", "expired", times=10)
    files.failures["/dist/index.json"] = [503] * 10
    fake = tmp_path / "docker"
    fake.write_text(
        '#!/bin/sh\ncase "$1" in --version) echo "Docker version 28.2.2";; info) echo 28;; *) exit 1;; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("BUILDER_DOCKER", str(fake))
    result = run_cli(root, "doctor")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith("FAIL  docker        no BuildKit-capable docker client") and "install" in line
        for line in lines
    )
    assert any(
        line.startswith("FAIL  codeartifact") and "refresh your AWS credentials" in line for line in lines
    )
    assert any(line.startswith("FAIL  nodejs") and "HTTP 503" in line for line in lines)
    assert "ghp_doctor_token_0123456789" not in result.output


@pytest.mark.docker
def test_the_registry_is_asked_through_docker(
    world: tuple[Path, Files, CodeArtifactState], registry: Registry, base_image: str
) -> None:
    root, _, _ = world
    settings = root / "builder.yaml"
    settings.write_text(settings.read_text() + f"registry: {registry.host}/scanners\n")
    lines = run_cli(root, "doctor").output.splitlines()
    assert f"ok    registry      {registry.host} answers through docker" in " ".join(lines)

    closed = f"127.0.0.1:{free_port()}"
    settings.write_text(settings.read_text().replace(registry.host, closed))
    result = run_cli(root, "doctor")
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith("FAIL  registry")]
    assert "connection refused" in line and f"is the registry {closed}" in line
