"""`builder build --push` against a real registry: Debian's docker-registry (CNCF distribution) on 127.0.0.1.

The engine treats 127.0.0.0/8 registries as insecure, so plain HTTP works without daemon
configuration. scripts/test installs the docker-registry package.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

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
    assert f"{repository}@{digest}" in json.loads(inspect(client, "{{json .RepoDigests}}", tag))

    # What the registry holds is this image: removed locally, it comes back with the same id.
    image_id = inspect(client, "{{.Id}}", tag)
    subprocess.run([client.path, "image", "rm", tag], capture_output=True, check=True)
    subprocess.run([client.path, "pull", f"{repository}@{digest}"], capture_output=True, check=True)
    assert inspect(client, "{{.Id}}", f"{repository}@{digest}") == image_id


def test_an_unreachable_registry_fails_before_building_naming_the_tag_and_what_to_check(
    client: DockerClient, base_image: str, repo_project: Path
) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    project = project_for(repo_project, f"{host}/builder-push-{secrets.token_hex(3)}")
    result = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert result.exit_code != 0
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.output[-3000:]
    assert f"cannot ask the registry for {host}/" in error[0]  # asked before any build work
    assert "reachable" in error[0] and "Traceback" not in result.output
    assert "building" not in result.output


def test_an_image_the_registry_holds_is_neither_built_nor_pushed_again(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path
) -> None:
    namespace = f"builder-push-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    first = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert first.exit_code == 0, first.output[-3000:]
    tag = built_tag(first.output, f"{registry.host}/{namespace}/base")
    subprocess.run([client.path, "image", "rm", tag], capture_output=True, check=True)

    # A fresh CodeBuild machine, the same lockfile: with immutable tags a second push would fail.
    again = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert again.exit_code == 0, again.output[-3000:]
    assert f"{tag}  (already in the registry)" in again.output
    assert "building" not in again.output and "smoke:" not in again.output
    assert subprocess.run([client.path, "image", "inspect", tag], capture_output=True).returncode != 0


def test_an_image_that_fails_its_smoke_test_is_not_pushed(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path, tmp_path: Path
) -> None:
    namespace = f"builder-push-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    image_yaml = project / "images/base/image.yaml"
    image_yaml.write_text(
        image_yaml.read_text() + "  - name: has a shell it has not\n    command: [fish, -v]\n"
    )
    assert run_cli(project, "render").exit_code == 0
    junit = tmp_path / "reports/smoke.xml"
    result = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push", "--junit", str(junit))
    assert result.exit_code == 1
    assert "smoke check failed (has a shell it has not)" in result.output
    assert "is not pushed" in result.output
    assert registry.tags(f"{namespace}/base") == []
    report = junit.read_text()  # the report is written even though the run failed: CodeBuild shows it
    assert 'name="has a shell it has not"' in report and "<failure" in report


def test_junit_without_push_is_a_usage_error(repo_project: Path) -> None:
    result = run_cli(repo_project, "build", "base", "--junit", "x.xml")
    assert result.exit_code == 2
    assert "--junit goes with --push" in result.output


def run_buildspec(project: Path, image: str) -> subprocess.CompletedProcess[str]:
    """Run a rendered buildspec's pre_build and build commands the way CodeBuild 0.2 does.

    One bash session for every command (variables carry over), the buildspec's variables in the
    environment, and a failing command failing the build. The install phase (pip install .) is
    left out: builder is already installed in this interpreter's environment, which comes first
    on PATH.
    """
    spec = yaml.safe_load((project / "buildspecs" / image / "buildspec.yml").read_text())
    commands = [c for phase in ("pre_build", "build") for c in spec["phases"][phase]["commands"]]
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


def test_the_rendered_buildspec_builds_tests_and_pushes_then_leaves_the_tag_alone(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path
) -> None:
    namespace = f"builder-push-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    first = run_buildspec(project, "base")
    assert first.returncode == 0, first.stderr[-3000:]
    [tag] = registry.tags(f"{namespace}/base")
    assert tag.endswith("-amd64") and f"{namespace}/base:{tag}  (built in" in first.stdout
    report = (project / "reports/smoke-base.xml").read_text()
    assert report.count("<testcase") == 2 and "<failure" not in report  # base's two checks, for CodeBuild

    (project / "reports/smoke-base.xml").unlink()
    subprocess.run(
        [client.path, "image", "rm", f"{registry.host}/{namespace}/base:{tag}"], capture_output=True
    )
    again = run_buildspec(project, "base")  # the next batch run, on a fresh machine, nothing changed
    assert again.returncode == 0, again.stderr[-3000:]
    assert "(already in the registry)" in again.stdout
    assert registry.tags(f"{namespace}/base") == [tag]
    assert not (project / "reports/smoke-base.xml").exists()
