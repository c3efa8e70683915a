"""`builder update` through the CLI, and the Lambda's GitHub token from Secrets Manager (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from builder.errors import UserError
from builder.locking.lockfile import load_lockfile
from builder.updating.lambda_handler import _github_token
from tests.fakes.codeartifact import OWNER, REGION, CodeArtifactState, codeartifact_double
from tests.fakes.github import FakeGitHub, checksum_file, serve
from tests.helpers import run_cli


def release(fake: FakeGitHub, version: str) -> None:
    files = {f"scan-{arch}": f"scan {version} {arch}".encode() for arch in ("amd64", "arm64")}
    fake.release("acme/scan", f"v{version}", {**files, "checksums.txt": checksum_file(files)})


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, FakeGitHub, CodeArtifactState]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with serve(FakeGitHub()) as github, codeartifact_double() as (url, ca):
        monkeypatch.setenv("BUILDER_CODEARTIFACT_ENDPOINT", url)
        ca.create("security-tools-domain", "generic-store", "pip-store", "npm-store")
        release(github, "1.0.0")
        root = tmp_path / "project"
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan]\n")
        (root / "tools.yaml").write_text(
            "tools:\n  scan:\n    source: github\n    repository: acme/scan\n    checksums: checksums.txt\n"
            "    install: binary\n    assets: {linux/amd64: scan-amd64, linux/arm64: scan-arm64}\n"
            "    check: {command: [scan], pattern: '(\\S+)'}\n"
        )
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{github.url}', github_downloads: '{github.download_url}'}}\n"
            f"store:\n  kind: codeartifact\n  codeartifact:\n    domain: security-tools-domain\n"
            f"    domain_owner: '{OWNER}'\n    region: {REGION}\n"
        )
        assert run_cli(root, "lock").exit_code == 0
        yield root, github, ca


def test_update_publishes_new_artifacts_and_leaves_the_lockfile_to_the_pull_request(
    world: tuple[Path, FakeGitHub, CodeArtifactState],
) -> None:
    root, github, ca = world
    before = (root / "builder.lock").read_bytes()
    release(github, "1.1.0")
    result = run_cli(root, "update", "--publish")
    assert result.exit_code == 0, result.output
    assert "scan: 1.0.0 -> 1.1.0" in result.output
    assert "update: 1 updates, 2 published, 0 failed" in result.output
    assert sorted(ca.versions_of("scan")["1.1.0"].assets) == ["scan-amd64", "scan-arm64"]
    assert (root / "builder.lock").read_bytes() == before  # the bump reaches main through review
    assert load_lockfile(root).tools["scan"].version == "1.0.0"


def test_open_pr_needs_a_repository_and_a_token(world: tuple[Path, FakeGitHub, CodeArtifactState],
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root, _, _ = world
    monkeypatch.delenv("BUILDER_GITHUB_REPOSITORY", raising=False)
    result = run_cli(root, "update", "--open-pr")
    assert result.exit_code == 2 and "--open-pr needs --repository owner/name" in result.output
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = run_cli(root, "update", "--open-pr", "--repository", "acme/ci-images")
    assert result.exit_code == 1 and "--open-pr needs a GitHub token in GITHUB_TOKEN" in result.output


@mock_aws
def test_the_lambda_reads_the_github_token_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    arn = boto3.client("secretsmanager").create_secret(
        Name="builder/github-token", SecretString="ghp_from_sm\n"
    )["ARN"]
    assert _github_token({"BUILDER_GITHUB_TOKEN_SECRET_ARN": arn}) == "ghp_from_sm"
    assert (
        _github_token({"BUILDER_GITHUB_TOKEN": "ghp_env", "BUILDER_GITHUB_TOKEN_SECRET_ARN": arn})
        == "ghp_env"
    )
    with pytest.raises(
        UserError, match=r"cannot read the GitHub token from .*missing-\w+: ResourceNotFoundException"
    ):
        _github_token({"BUILDER_GITHUB_TOKEN_SECRET_ARN": arn.replace("github-token", "missing")})
    with pytest.raises(UserError, match="environment variable BUILDER_GITHUB_TOKEN_SECRET_ARN is not set"):
        _github_token({})
