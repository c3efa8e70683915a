"""`builder status` and the compact build output, through the CLI, with real Docker builds.

A small project (the shipped base image and an `app` image holding one binary tool) is locked
against a fake GitHub on 127.0.0.1 and built for real; then one input is changed at a time and
status must say what a build would do and why, asking neither the upstream nor building.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from builder.building.engine import DockerClient
from tests.conftest import REPO
from tests.fakes.github import FakeGitHub, checksum_file, serve
from tests.helpers import edit, line_of, run_cli

pytestmark = pytest.mark.docker
TOOLS = """\
tools:
  hello:
    source: github
    repository: acme/hello
    checksums: checksums.txt
    version: "~0.4"
    install: binary
    assets: {linux/amd64: hello-amd64}
    entry_points: {hello: hello}
    check: {command: [hello], pattern: 'hello (\\S+)'}
"""
IMAGE = "base: {image: base}\ntools: [hello]\n"
NOW = datetime.now(UTC)


def published(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as fake:
        for version, age in (("0.4.2", 40), ("0.5.0", 10)):
            files = {"hello-amd64": f"#!/bin/sh\necho 'hello {version}'\n".encode()}
            fake.release("acme/hello", f"v{version}", {**files, "checksums.txt": checksum_file(files)},
                         published_at=published(age))  # fmt: skip
        yield fake


@pytest.fixture
def project(tmp_path: Path, github: FakeGitHub, base_image: str, client: DockerClient) -> Iterator[Path]:
    """Locked (hello 0.4.2, the HTTP cache now holds GitHub's answer) and built once."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "images/base", root / "images/base")
    (root / "images/app").mkdir(parents=True)
    (root / "images/app/image.yaml").write_text(IMAGE)
    (root / "tools.yaml").write_text(TOOLS)
    registry = f"builder-status-{secrets.token_hex(3)}"
    (root / "builder.yaml").write_text(
        f"registry: {registry}\nplatforms: [linux/amd64]\nstore: {{kind: local, path: '{tmp_path / 'store'}'}}\n"
        f"base_images: {{debian: {{ref: '{base_image}'}}}}\nupstreams: {{github_api: '{github.url}', github_downloads: '{github.download_url}'}}\n"
    )
    assert run_cli(root, "lock").exit_code == 0
    assert run_cli(root, "render").exit_code == 0
    first = run_cli(root, "build", "app", "--platform", "linux/amd64")
    assert first.exit_code == 0, first.output[-3000:]
    (root / "first-build.txt").write_text(first.output)
    yield root
    listed = subprocess.run([client.path, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True)  # fmt: skip
    mine = [i for i in listed.stdout.split() if i.startswith(registry + "/")]
    if mine:
        subprocess.run([client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)


def status(project: Path, *args: str) -> Result:
    result = run_cli(project, "status", "--platform", "linux/amd64", *args)
    assert result.exit_code == 0, result.output
    return result


def image_block(output: str, name: str) -> str:
    """The image's line and its reason lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"  {name}\s", line))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not re.match(r"^\s+- ", line):
            break
        block.append(line)
    return "\n".join(block)


def test_after_a_build_everything_is_up_to_date_and_the_tool_age_comes_from_the_cache(
    project: Path, github: FakeGitHub
) -> None:
    asked = len(github.requests)
    result = status(project)
    assert re.search(r"  app\s+up to date\s+builder-status-\w+/app:[0-9a-f]{12}-amd64", result.output)
    assert re.search(r"  base\s+up to date", result.output)
    assert re.search(r"  hello\s+0\.4\.2\s+40 days old\s+newest allowed$", result.output, re.M)
    assert re.search(r"\d+ rendered files match a fresh render", result.output)
    assert len(github.requests) == asked  # offline: the answer came from the ETag cache


def test_a_wider_constraint_shows_the_newest_allowed_release_offline(
    project: Path, github: FakeGitHub
) -> None:
    edit(project / "tools.yaml", 'version: "~0.4"', 'version: ">=0.4,<1"')
    asked = len(github.requests)
    data = json.loads(status(project, "--format", "json").output)
    (hello,) = data["tools"]
    assert hello["locked"] == "0.4.2" and hello["newest_allowed"] == "0.5.0" and hello["age_days"] == 40
    assert [i["state"] for i in data["images"]] == ["up to date", "up to date"]  # the image is unchanged
    assert len(github.requests) == asked


def test_a_stale_lock_is_named_with_the_images_it_blocks(project: Path) -> None:
    edit(project / "tools.yaml", 'version: "~0.4"', 'version: ">=0.5,<1"')
    result = status(project)
    assert re.search(r"  hello\s+0\.4\.2\s+stale: 0\.4\.2 is outside '>=0\.5,<1'", result.output)
    block = image_block(result.output, "app")
    assert "cannot build" in block and "builder.lock is stale for hello: run `builder lock hello`" in block
    assert re.search(r"  base\s+up to date", result.output)  # base uses no stale tool
    assert "cannot render while builder.lock is stale" in result.output


def test_a_bumped_tool_is_the_reason_for_a_rebuild(project: Path) -> None:
    edit(project / "tools.yaml", 'version: "~0.4"', 'version: ">=0.5,<1"')
    assert run_cli(project, "lock").exit_code == 0
    result = status(project)
    block = image_block(result.output, "app")
    assert "would rebuild" in block and "- hello 0.4.2 -> 0.5.0 in builder.lock" in block
    assert len(block.splitlines()) == 2, block  # the constraint is not an input of the image
    assert re.search(r"  base\s+up to date", result.output)
    assert run_cli(project, "render").exit_code == 0
    assert run_cli(project, "build", "app", "--platform", "linux/amd64").exit_code == 0
    assert re.search(r"  app\s+up to date", status(project).output)


def test_a_changed_template_is_named_and_only_the_images_that_render_it_rebuild(project: Path) -> None:
    path = project / "templates/partials/binary.j2"
    path.write_text(path.read_text().replace("ARG TARGETARCH\n", "ARG TARGETARCH\nLABEL edited=yes\n", 1))
    result = status(project)
    block = image_block(result.output, "app")
    assert "would rebuild" in block and "- templates/partials/binary.j2 changed" in block
    assert re.search(r"  base\s+up to date", result.output)  # base renders no partial
    assert "buildspecs/app/Dockerfile:" in result.output  # and the committed output is now stale


def test_a_hand_edited_dockerfile_is_reported_by_file_and_line_and_warned_or_refused_by_build(
    project: Path,
) -> None:
    dockerfile = project / "buildspecs/app/Dockerfile"
    edit(dockerfile, "USER 0\n", "USER 0\nRUN echo planted\n")
    line = line_of(dockerfile, "RUN echo planted")
    result = status(project)
    assert f"buildspecs/app/Dockerfile:{line}: differs from a fresh render" in result.output
    assert re.search(r"  app\s+up to date", result.output)  # the build renders afresh: nothing to rebuild
    data = json.loads(status(project, "--format", "json").output)
    assert data["buildspecs"]["drift"] == [
        {
            "path": "buildspecs/app/Dockerfile",
            "line": line,
            "problem": "differs from a fresh render (edited by hand, or stale)",
        }
    ]

    warned = run_cli(project, "build", "app", "--platform", "linux/amd64")
    assert warned.exit_code == 0
    assert (
        f"warning: committed buildspecs/app/Dockerfile:{line}: differs from a fresh render" in warned.output
    )
    strict = run_cli(project, "build", "app", "--platform", "linux/amd64", "--strict")
    assert strict.exit_code == 1
    assert (
        f"error: committed buildspecs/app/Dockerfile:{line}" in strict.output and "--strict" in strict.output
    )
    assert "up to date" not in strict.output  # refused before any docker work


def test_a_build_prints_one_line_per_stage_then_one_row_and_an_unchanged_image_is_one_line(
    project: Path,
) -> None:
    first = (project / "first-build.txt").read_text()
    assert re.search(r"^base \| final\s+(cached|rebuilt)\s+\d+\.\d s$", first, re.M), first
    assert re.search(r"^app \| tool-hello\s+(cached|rebuilt)\s+\d+\.\d s$", first, re.M), first
    assert re.search(
        r"^builder-status-\w+/app:[0-9a-f]{12}-amd64\s+\d+\.\d MiB\s+built\s+\d+\.\d s$", first, re.M
    )
    assert "#1 " not in first and "sha256:" not in first  # no BuildKit log by default

    again = run_cli(project, "build", "app", "--platform", "linux/amd64")
    assert again.exit_code == 0
    assert len(again.output.splitlines()) == 1, again.output
    assert re.match(
        r"builder-status-\w+/app:[0-9a-f]{12}-amd64\s+\d+\.\d MiB\s+up to date\s+\d+\.\d s$", again.output
    )

    plain = run_cli(project, "build", "app", "--platform", "linux/amd64", "--rebuild", "-v")
    assert plain.exit_code == 0
    # BuildKit numbers its first steps in no fixed order (the Dockerfile and .dockerignore load at once)
    assert re.search(r"^app \| #\d+ \[internal\] load build definition from Dockerfile", plain.output, re.M)


FAILING = """\
FROM {{ from_ref }} AS base
FROM base AS noisy
RUN for i in $(seq 1 60); do echo "noisy line $i"; done; exit 3
FROM base
COPY --from=noisy /etc/hostname /tmp/
"""


def test_a_failing_run_shows_its_stage_and_its_own_last_40_lines(project: Path) -> None:
    (project / "images/broken").mkdir()
    (project / "images/broken/image.yaml").write_text("base: {image: base}\n")
    (project / "images/broken/Dockerfile.j2").write_text(FAILING)
    result = run_cli(project, "build", "broken", "--platform", "linux/amd64")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    error = lines[-1]  # the one-line error stays last; the step's own lines come just above it
    assert error.startswith("error: build of ") and "failed at [noisy 1/1] RUN for i in $(seq 1 60)" in error
    assert error.endswith("exit code: 3 (stage noisy)")
    start = lines.index("stage noisy, its last 40 lines:")
    tail = lines[start + 1 : -1]
    assert len(tail) == 40 and all(line.startswith("  | ") for line in tail)
    assert tail[0].endswith("noisy line 21") and tail[-1].endswith("noisy line 60")
