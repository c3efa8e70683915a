"""`builder manifest`: one multi-platform tag per image, pushed to a real registry once every platform's is."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from builder.building.engine import DockerClient
from builder.building.render import plan_images
from builder.config.project import load_project
from builder.locking.lockfile import load_lockfile
from tests.helpers import run_cli
from tests.registry import Registry, project_for, run_buildspec

pytestmark = pytest.mark.docker


def push_arm64_stand_in(client: DockerClient, tag: str, work: Path) -> None:
    """An arm64 image under the arm64 tag. This machine cannot run arm64 build steps (no emulator),
    and an index reads only each member's platform; an image with no RUN step builds for any."""
    (work / "f").write_text("arm64 stand-in\n")
    (work / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    env = {"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"}
    built = subprocess.run([client.path, "build", "-q", "--platform", "linux/arm64", "-t", tag, str(work)],
                           capture_output=True, text=True, env=env)  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert subprocess.run([client.path, "push", tag], capture_output=True).returncode == 0


def test_the_index_names_every_platforms_image_and_is_pushed_once(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path, tmp_path: Path
) -> None:
    namespace = f"builder-index-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    digest = plan_images(load_project(project), load_lockfile(project))["base"].tag
    repository = f"{registry.host}/{namespace}/base"

    early = run_cli(project, "manifest", "base")
    assert early.exit_code == 1
    assert (
        f"needs {repository}:{digest}-amd64, {repository}:{digest}-arm64 in the registry first"
        in early.output
    )

    pushed = run_cli(project, "build", "base", "--platform", "linux/amd64", "--push")
    assert pushed.exit_code == 0, pushed.output[-3000:]
    push_arm64_stand_in(client, f"{repository}:{digest}-arm64", tmp_path)

    first = run_buildspec(project, "base", "manifest.yml")  # what the batch's base_index entry runs
    assert first.returncode == 0, first.stderr[-3000:]
    index_digest, members = registry.index(f"{namespace}/base", digest)
    assert f"{repository}:{digest}  (pushed as {index_digest})" in first.stdout
    assert members == {
        "linux/amd64": registry.manifest_digest(f"{namespace}/base", f"{digest}-amd64"),
        "linux/arm64": registry.manifest_digest(f"{namespace}/base", f"{digest}-arm64"),
    }

    second = run_buildspec(project, "base", "manifest.yml")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{repository}:{digest}  (already in the registry)" in second.stdout
    assert registry.index(f"{namespace}/base", digest)[0] == index_digest
