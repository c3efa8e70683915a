"""`builder build --push` against a real registry on 127.0.0.1 (tests/registry.py), and the buildspec that runs it."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from builder.building.engine import DockerClient
from tests.helpers import run_cli
from tests.registry import Registry, built_tag, free_port, inspect, project_for, run_buildspec

pytestmark = pytest.mark.docker


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
    assert re.search(rf"^{re.escape(tag)}\s+-\s+already in the registry$", again.output, re.M), again.output
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


def test_the_rendered_buildspec_builds_tests_and_pushes_then_leaves_the_tag_alone(
    registry: Registry, client: DockerClient, base_image: str, repo_project: Path
) -> None:
    namespace = f"builder-push-{secrets.token_hex(3)}"
    project = project_for(repo_project, f"{registry.host}/{namespace}")
    first = run_buildspec(project, "base")
    assert first.returncode == 0, first.stderr[-3000:]
    [tag] = registry.tags(f"{namespace}/base")
    assert tag.endswith("-amd64")
    assert re.search(
        rf"^\S+/{namespace}/base:{tag}\s+[\d.]+ MiB\s+built\s+[\d.]+ s  smoke-tested, pushed as sha256:",
        first.stdout,
        re.M,
    )
    report = (project / "reports/smoke-base.xml").read_text()
    assert report.count("<testcase") == 2 and "<failure" not in report  # base's two checks, for CodeBuild

    (project / "reports/smoke-base.xml").unlink()
    subprocess.run(
        [client.path, "image", "rm", f"{registry.host}/{namespace}/base:{tag}"], capture_output=True
    )
    again = run_buildspec(project, "base")  # the next batch run, on a fresh machine, nothing changed
    assert again.returncode == 0, again.stderr[-3000:]
    assert "  already in the registry" in again.stdout
    assert registry.tags(f"{namespace}/base") == [tag]
    assert not (project / "reports/smoke-base.xml").exists()
