"""A real registry for push tests: Debian's docker-registry (CNCF distribution) on 127.0.0.1.

The engine treats 127.0.0.0/8 registries as insecure, so plain HTTP works without daemon
configuration. scripts/test installs the docker-registry package.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from builder.building.engine import DockerClient
from tests.helpers import run_cli

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))  # fmt: skip
INDEX_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
))  # fmt: skip


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT

    def get(self, path: str, accept: str = "application/json") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def tags(self, repository: str) -> list[str]:
        status, _, body = self.get(f"/v2/{repository}/tags/list")
        return list(json.loads(body).get("tags") or []) if status == 200 else []

    def index(self, repository: str, tag: str) -> tuple[str, dict[str, str]]:
        """The digest of a multi-platform index, and its members' digests by "os/architecture"."""
        status, headers, body = self.get(f"/v2/{repository}/manifests/{tag}", INDEX_TYPES)
        assert status == 200, f"index {repository}:{tag}: HTTP {status}"
        members = json.loads(body)["manifests"]
        return headers["Docker-Content-Digest"], {
            f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in members
        }

    def manifest_digest(self, repository: str, tag: str) -> str:
        status, headers, _ = self.get(f"/v2/{repository}/manifests/{tag}", MANIFEST_TYPES)
        assert status == 200, f"manifest {repository}:{tag}: HTTP {status}"
        return headers["Docker-Content-Digest"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_registry(root: Path) -> Iterator[Registry]:
    """A registry storing under ``root``, up until the block ends."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: scripts/test installs Debian's docker-registry", False)
    host = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '{host}'}}\n"
    )
    with open(root / "log", "wb") as log:
        server = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        found = Registry(host)
        deadline = time.monotonic() + 30
        while _down(found):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"docker-registry did not start:\n{(root / 'log').read_text()}", False)
            time.sleep(0.1)
        yield found
    finally:
        server.terminate()
        server.wait(10)


def _down(registry: Registry) -> bool:
    try:
        return registry.get("/v2/")[0] != 200
    except OSError:
        return True


def project_for(repo_project: Path, registry: str) -> Path:
    settings = repo_project / "builder.yaml"
    text = settings.read_text().replace("registry: builder\n", f"registry: {registry}\n")
    text = text.replace(
        "store:\n  kind: local\n", f"store: {{kind: local, path: '{repo_project / 'cache'}'}}\n"
    )
    settings.write_text(text)
    rendered = run_cli(repo_project, "render")
    assert rendered.exit_code == 0, rendered.output
    return repo_project


def built_tag(output: str, repository: str) -> str:
    tags = [
        word for line in output.splitlines() for word in line.split() if word.startswith(repository + ":")
    ]
    assert tags, output
    return tags[-1]


def inspect(client: DockerClient, fmt: str, ref: str) -> str:
    done = subprocess.run(
        [client.path, "image", "inspect", "--format", fmt, ref], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def run_buildspec(project: Path, image: str, file: str = "buildspec.yml") -> subprocess.CompletedProcess[str]:
    """Run a rendered buildspec's pre_build and build commands the way CodeBuild 0.2 does.

    One bash session for every command (variables carry over), the buildspec's variables in the
    environment, and a failing command failing the build. The install phase (pip install .) is
    left out: builder is already installed in this interpreter's environment, which comes first
    on PATH.
    """
    spec = yaml.safe_load((project / "buildspecs" / image / file).read_text())
    phases = spec["phases"]
    commands = [c for phase in ("pre_build", "build") for c in phases.get(phase, {}).get("commands", [])]
    env = {**os.environ, **spec["env"]["variables"]}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    script = "set -eo pipefail\n" + "\n".join(commands)
    return subprocess.run(
        [spec["env"]["shell"], "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def remove_tagged(client: DockerClient, prefix: str) -> None:
    """Remove the local images whose name starts with ``prefix`` (what a test pushed from here)."""
    listed = subprocess.run(
        [client.path, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"],
        capture_output=True,
        text=True,
    )
    rows = [line.split() for line in listed.stdout.splitlines() if line.startswith(prefix)]
    # An image pulled by digest has no tag: only its digest reference names it.
    mine = [f"{repo}:{tag}" if tag != "<none>" else f"{repo}@{digest}" for repo, tag, digest in rows]
    if mine:
        subprocess.run([client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)
