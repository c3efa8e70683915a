"""The end-to-end run whose AWS calls tests/test_iam_policies.py checks: the updater, then CodeBuild.

A project with one image and one release artifact on a fake GitHub; the Lambda handler run in this
process with the function's environment; the pull request's rendered buildspecs run the way
CodeBuild runs them, in a child process that records its calls (tests/aws_calls.py).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.server import ThreadedMotoServer

from builder.updating.lambda_handler import handler
from tests.aws_calls import AwsCall, child_environment, read_calls, recording
from tests.conftest import REPO, _is_local
from tests.deployment import Deployment
from tests.fakes.github import FakeGitHub, checksum_file
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.osv import FakeOsv, ecosystem_range, record
from tests.helpers import run_cli
from tests.registry import free_port

IMAGE = "scanners"


def hello_tarball(version: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = f"#!/bin/sh\necho 'hello version {version}'\n".encode()
        info = tarfile.TarInfo("hello")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def release_hello(releases: FakeGitHub, version: str) -> None:
    files = {f"hello_{version}_linux_amd64.tar.gz": hello_tarball(version)}
    releases.release(
        "example/hello", f"v{version}", {**files, f"hello_{version}_checksums.txt": checksum_file(files)}
    )


TOOLS = """\
tools:
  hello:
    source: github
    repository: example/hello
    checksums: hello_{version}_checksums.txt
    install: archive
    assets: {linux/amd64: "hello_{version}_linux_amd64.tar.gz"}
    entry_points: {hello: hello}
    check: {command: [hello, --version], pattern: 'hello version (\\S+)'}
    audit: {ecosystem: Go, package: github.com/example/hello}
"""


def hello_records() -> FakeOsv:
    """A known vulnerability of every hello up to 0.5.0: the build's audit imports it into Security Hub."""
    osv = FakeOsv()
    osv.add(record("GO-2026-0500", "Go", "github.com/example/hello",
                   [ecosystem_range({"introduced": "0"}, {"last_affected": "0.5.0"}, kind="SEMVER")],
                   database_specific={"severity": "HIGH"}))  # fmt: skip
    return osv


@contextmanager
def security_hub_server() -> Iterator[str]:
    """moto's Security Hub as a server on 127.0.0.1: the buildspec's child process reaches it there."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def seed_project(
    root: Path, releases: FakeGitHub, registry: str, base_image: str, osv: str
) -> dict[str, bytes]:
    """The repository the updater reads: one image with one release artifact, locked and rendered."""
    shutil.copytree(REPO / "templates", root / "templates")
    (root / f"images/{IMAGE}").mkdir(parents=True)
    (root / f"images/{IMAGE}/image.yaml").write_text("base: {external: debian}\ntools: [hello]\n")
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"registry: {registry}\nplatforms: [linux/amd64]\nbase_images: {{debian: {{ref: '{base_image}'}}}}\n"
        f"upstreams: {{github_api: '{releases.url}', github_downloads: '{releases.download_url}', osv: '{osv}', osv_archive: '{osv}'}}\n"
        "audit: {offline: true}\n"  # CodeBuild audits from the OSV archives mirrored into CodeArtifact
    )
    for verb in ("lock", "render"):
        result = run_cli(root, verb)
        assert result.exit_code == 0, result.output
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def store_osv(project: Path, deployed: Deployment, ca_url: str) -> None:
    """An operator's `builder store osv` where there is network: the archives CodeBuild's offline audit reads.

    Run as this test, not as a deployed role: Terraform grants no role to publish them."""
    env = {**deployed.codebuild_environment, "BUILDER_CODEARTIFACT_ENDPOINT": ca_url}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        result = run_cli(project, "store", "osv")
    assert result.exit_code == 0, result.output
    assert "osv/eco--go " in result.output, result.output


def run_updater(env: Mapping[str, str]) -> tuple[dict[str, Any], list[AwsCall]]:
    """The Lambda handler in this process, with exactly ``env`` as its environment."""
    stream = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, recording() as calls:
        for name in [n for n in os.environ if n.startswith(("BUILDER_", "GITHUB_", "AWS_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        summary = handler({}, None, stream)
    return summary, list(calls)


def run_buildspec_as_codebuild(
    checkout: Path, file: str, machine: Mapping[str, str], project: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """A rendered buildspec's pre_build and build phases in one bash, as CodeBuild 0.2 runs them.

    The project's variables win over the buildspec's (CodeBuild's order), which win over the
    machine's. The install phase (pip install .) is left out: builder is installed here already."""
    spec = yaml.safe_load((checkout / "buildspecs" / IMAGE / file).read_text())
    phases = spec["phases"]
    commands = [c for phase in ("pre_build", "build") for c in phases.get(phase, {}).get("commands", [])]
    env = {**machine, **spec["env"]["variables"], **project}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    script = "set -eo pipefail\n" + "\n".join(commands)
    return subprocess.run([spec["env"]["shell"], "-c", script], cwd=checkout, env=env, capture_output=True,
                          text=True, check=False, timeout=600)  # fmt: skip


@contextmanager
def isolated(home: Path) -> Iterator[None]:
    """What tests/conftest.py gives each test, for this module's one run: no real home, no remote network."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach {address}: only 127.0.0.1 is allowed")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as patch:
        for name, folder in {
            "HOME": home,
            "XDG_CACHE_HOME": home / ".cache",
            "XDG_CONFIG_HOME": home / ".config",
        }.items():
            patch.setenv(name, str(folder))
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setattr(socket.socket, "connect", guarded)
        yield


def lambda_environment(
    deployed: Deployment, region: str, fakes: tuple[FakeRepo, str], home: Path
) -> dict[str, str]:
    """The function's environment from Terraform, what the Lambda runtime adds, and the fakes' addresses."""
    repo, ca_url = fakes
    return {
        **deployed.lambda_environment,
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "PATH": os.environ["PATH"], "HOME": str(home),
        "BUILDER_GITHUB_API": repo.url, "BUILDER_CODEARTIFACT_ENDPOINT": ca_url,
        "BUILDER_OSV_API": "http://127.0.0.1:9",  # no OSV: the pull request says it was not audited
    }  # fmt: skip


def machine_environment(region: str, ca_url: str, security_hub: str) -> dict[str, str]:
    """This machine's environment (the docker client, PATH) with what CodeBuild adds: AWS's variables.

    The double's address goes in botocore's own AWS_ENDPOINT_URL_CODEARTIFACT: `builder build` makes
    the token's client without BUILDER_CODEARTIFACT_ENDPOINT (Runtime.build_secrets), so only this
    reaches both of its clients."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("BUILDER_", "AWS_", "GITHUB_"))}
    docker = {k: v for k, v in os.environ.items() if k == "BUILDER_DOCKER"}
    aws = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL_CODEARTIFACT": ca_url,
           "AWS_ENDPOINT_URL_SECURITYHUB": security_hub}  # fmt: skip
    return {**own, **docker, **aws}


def run_codebuild(
    checkout: Path, machine: dict[str, str], project: Mapping[str, str], work: Path
) -> list[AwsCall]:
    """The image's buildspec, then its manifest buildspec (the batch's index entry), recording their calls."""
    calls = work / "codebuild-calls.jsonl"
    recorded = child_environment(machine, work / "site", calls, REPO)
    for file in ("buildspec.yml", "manifest.yml"):
        done = run_buildspec_as_codebuild(checkout, file, recorded, project)
        assert done.returncode == 0, f"{file}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return read_calls(calls)


def checkout(files: Mapping[str, bytes], root: Path) -> Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root
