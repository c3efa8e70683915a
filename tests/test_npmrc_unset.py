"""An npmrc that names an unset ${VAR}: the build stops before any docker work, naming the variable and line.

Unset, the token line would be left out of the build's secret and npm would fail inside the
build with a bare 401. The docker client here is a script that records every call, to show
that none was made.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.errors import UserError
from tests.helpers import run_cli

NPMRC = """\
; the team's registry
registry=http://127.0.0.1:4873/
//127.0.0.1:4873/:_authToken=${NPM_TOKEN}
"""


@pytest.fixture
def docker_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BUILDER_DOCKER is a client that writes down each call and answers like one with no engine."""
    log, client = tmp_path / "docker-calls", tmp_path / "docker"
    client.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit 1\n')
    client.chmod(0o755)
    monkeypatch.setenv("BUILDER_DOCKER", str(client))
    return log


def npmrc(text: str = NPMRC) -> Path:
    path = Path(os.environ["HOME"]) / ".npmrc"  # a fresh home per test (tests/conftest.py)
    path.write_text(text)
    return path


def local_store(project: Path) -> Path:
    settings = project / "builder.yaml"  # the user's own npmrc is what a local-store build gets
    settings.write_text(settings.read_text().replace("kind: codeartifact", "kind: local", 1))
    return project


def test_an_unset_token_variable_stops_the_build_before_docker_runs(
    minimal_project: Path, docker_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NPM_TOKEN", raising=False)
    path = npmrc()
    result = run_cli(local_store(minimal_project), "build", "scanners")  # jstool is an npm package
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {path}:3: ${{NPM_TOKEN}} is not set, so builds would send no token to //127.0.0.1:4873/ "
        "(set NPM_TOKEN, or remove the line)"
    ]
    assert not docker_calls.exists()


def test_set_it_and_the_build_goes_on_to_docker(
    minimal_project: Path, docker_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPM_TOKEN", "npm_set0token0for0the0build")
    npmrc()
    result = run_cli(local_store(minimal_project), "build", "scanners")
    assert result.exit_code == 1 and "no Docker engine answers" in result.output
    assert docker_calls.read_text().strip()


def test_an_image_with_no_npm_tool_does_not_need_the_npmrc(
    minimal_project: Path, docker_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NPM_TOKEN", raising=False)
    npmrc()
    result = run_cli(local_store(minimal_project), "build", "base")
    assert "NPM_TOKEN" not in result.output and "no Docker engine answers" in result.output
    assert docker_calls.read_text().strip()


def test_the_codeartifact_store_never_reads_the_users_npmrc(
    minimal_project: Path, docker_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NPM_TOKEN", raising=False)
    npmrc()
    result = run_cli(minimal_project, "build", "scanners")  # the fixture's store is CodeArtifact
    assert "NPM_TOKEN" not in result.output
    assert docker_calls.read_text().strip()


def test_any_line_naming_an_unset_variable_is_refused_and_comments_are_not(tmp_path: Path) -> None:
    from builder.plumbing.npmrc import check_references

    path = tmp_path / "npmrc"
    path.write_text("# ${NOT_READ} in a comment\n; ${NOR_THIS}\ncache=${CACHE_DIR}/npm\n")
    with pytest.raises(UserError) as caught:
        check_references(path, {})
    assert str(caught.value) == (
        f"{path}:3: ${{CACHE_DIR}} is not set, so npm would read cache as the text ${{CACHE_DIR}} "
        "(set CACHE_DIR, or remove the line)"
    )
    check_references(path, {"CACHE_DIR": "/tmp"})
    check_references(tmp_path / "absent", {})  # no npmrc: nothing to check
