"""`builder build --push` against a real registry: Debian's docker-registry (CNCF distribution) on 127.0.0.1.

The engine treats 127.0.0.0/8 registries as insecure, so plain HTTP works without daemon
configuration. scripts/test installs the docker-registry package.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.engine import DockerClient, find_client
from tests.helpers import run_cli

pytestmark = pytest.mark.docker

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
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

    def manifest_digest(self, repository: str, tag: str) -> str:
        status, headers, _ = self.get(f"/v2/{repository}/manifests/{tag}", MANIFEST_TYPES)
        assert status == 200, f"manifest {repository}:{tag}: HTTP {status}"
        return headers["Docker-Content-Digest"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: scripts/test installs Debian's docker-registry", False)
    root = tmp_path_factory.mktemp("registry")
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


@pytest.fixture(scope="module")
def client() -> Iterator[DockerClient]:
    found = find_client(None, {})
    yield found
    listed = subprocess.run(
        [found.path, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True
    )
    mine = [i for i in listed.stdout.split() if "/builder-push-" in i]
    if mine:
        subprocess.run([found.path, "image", "rm", "-f", *mine], capture_output=True, check=False)


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


def test_push_puts_the_image_in_the_registry_and_reports_its_digest(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path
) -> None:
    namespace = f"builder-push-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    repository = f"{registry.host}/{namespace}/base"

    local = run_cli(project, "build", "base", "--platform", "linux/amd64")
    assert local.exit_code == 0, local.output[-3000:]
    assert registry.tags(f"{namespace}/base") == []  # without --push nothing leaves the machine

    # The image is up to date, so this run builds nothing: --push still pushes it.
    pushed = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert pushed.exit_code == 0, pushed.output[-3000:]
    tag = built_tag(pushed.output, repository)
    assert "up to date" in pushed.output
    assert registry.tags(f"{namespace}/base") == [tag.rsplit(":", 1)[1]]
    digest = registry.manifest_digest(f"{namespace}/base", tag.rsplit(":", 1)[1])
    assert f"pushed as {digest}" in pushed.output
    assert inspect(client, "{{json .RepoDigests}}", tag) == json.dumps([f"{repository}@{digest}"])

    # What the registry holds is this image: removed locally, it comes back with the same id.
    image_id = inspect(client, "{{.Id}}", tag)
    subprocess.run([client.path, "image", "rm", tag], capture_output=True, check=True)
    subprocess.run([client.path, "pull", f"{repository}@{digest}"], capture_output=True, check=True)
    assert inspect(client, "{{.Id}}", f"{repository}@{digest}") == image_id


def test_a_push_to_an_unreachable_registry_fails_naming_the_tag_and_what_to_check(
    client: DockerClient, base_image: str, repo_project: Path
) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    project = project_for(repo_project, f"{host}/builder-push-{secrets.token_hex(3)}")
    result = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert result.exit_code != 0
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.output[-3000:]
    assert f"docker push {host}/" in error[0]
    assert "reachable" in error[0] and "Traceback" not in result.output
