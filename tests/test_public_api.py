"""The public API: `import builder` alone loads, renders, locks and builds a project.

Only ``builder``'s functions and the errors they raise (``builder.errors``) are used here, as a
library user would; nothing else below it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import builder
from builder.errors import ConfigError
from tests.conftest import REPO
from tests.fakes.github import FakeGitHub, checksum_file, serve

if TYPE_CHECKING:
    from builder.building.engine import DockerClient

GOLDEN = Path(__file__).parent / "golden" / "minimal"
TOOL = """\
tools:
  solo:
    source: github
    repository: acme/solo
    checksums: checksums.txt
    version: ">=1.0,<2"
    install: binary
    assets: {linux/amd64: solo-linux-amd64}
    check: {command: [solo], pattern: '(\\S+)'}
"""


def test_import_builder_loads_nothing_else() -> None:
    code = "import sys, builder; print(sorted(m for m in sys.modules if m.startswith(('builder', 'typing'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['builder']"]
    assert sorted(builder.__all__) == ["__version__", "build", "load_project", "lock", "render", "update"]


def test_load_project_reads_the_definitions(minimal_project: Path) -> None:
    project = builder.load_project(minimal_project)
    assert project.order == ("base", "scanners")
    assert set(project.tools) == {"hello", "zippy", "solo", "runtime", "pyapp", "jstool"}


def test_render_returns_the_golden_files_and_writes_nothing(minimal_project: Path) -> None:
    files = builder.render(minimal_project)
    golden = {f"buildspecs/{p.relative_to(GOLDEN)}": p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()}
    assert files == golden
    assert not (minimal_project / "buildspecs").exists()


def test_render_of_one_image_returns_only_its_files(minimal_project: Path) -> None:
    files = builder.render(str(minimal_project), ["base"])
    assert sorted(files) == [
        f"buildspecs/base/{name}" for name in ("Dockerfile", "buildspec.yml", "manifest.yml")
    ]


def test_an_unknown_image_is_a_config_error(minimal_project: Path) -> None:
    with pytest.raises(ConfigError, match="no image named 'nope'"):
        builder.render(minimal_project, ["nope"])


def _release(fake: FakeGitHub, version: str) -> None:
    files = {"solo-linux-amd64": f"#!/bin/sh\necho {version}\n".encode()}
    fake.release("acme/solo", f"v{version}", {**files, "checksums.txt": checksum_file(files)})


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as github:
        _release(github, "1.0.0")
        _release(github, "1.2.0")
        yield github


@pytest.fixture
def project(tmp_path: Path, fake: FakeGitHub) -> Path:
    """One image with one binary tool from the fake GitHub, on the local base image."""
    root = tmp_path / "project"
    (root / "images/solo").mkdir(parents=True)
    (root / "images/solo/image.yaml").write_text("base: {external: debian}\ntools: [solo]\n")
    (root / "tools.yaml").write_text(TOOL)
    (root / "builder.yaml").write_text(
        "registry: builder-api-test\nplatforms: [linux/amd64]\n"
        "base_images: {debian: {ref: 'builder-debian:bookworm'}}\n"
        f"upstreams: {{github_api: '{fake.url}', github_downloads: '{fake.download_url}'}}\n"
    )
    shutil.copytree(REPO / "templates", root / "templates")
    return root


def test_lock_writes_the_newest_allowed_release(project: Path) -> None:
    lines: list[str] = []
    outcome = builder.lock(project, log=lines.append)
    assert [(c.tool, c.old, c.new) for c in outcome.changes] == [("solo", None, "1.2.0")]
    assert not outcome.failures
    assert "  solo:\n    version: 1.2.0\n" in (project / "builder.lock").read_text()
    assert any("solo" in line for line in lines)
    assert not builder.lock(project).changed  # locked: nothing to do


def test_lock_of_an_unknown_tool_is_a_config_error(project: Path) -> None:
    with pytest.raises(ConfigError, match="no tool named 'sol'"):
        builder.lock(project, ["sol"])
    assert not (project / "builder.lock").exists()


@pytest.mark.docker
def test_build_makes_an_image_that_runs_the_locked_tool(
    project: Path, base_image: str, client: DockerClient
) -> None:
    builder.lock(project)
    try:
        built = builder.build(project, ["solo"], platform="linux/amd64")
        assert [(b.image, b.skipped) for b in built] == [("solo", False)]
        tag = built[0].tag
        assert tag.startswith("builder-api-test/solo:") and tag.endswith("-amd64")
        done = subprocess.run([client.path, "run", "--rm", "--network", "none", tag, "solo"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert done.stdout.strip() == "1.2.0"
        again = builder.build(project, ["solo"], platform="linux/amd64")
        assert [(b.tag, b.skipped) for b in again] == [(tag, True)]  # the engine has it: not built again
    finally:
        images = subprocess.run([client.path, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        mine = [i for i in images if i.startswith("builder-api-test/")]
        if mine:
            subprocess.run([client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)
