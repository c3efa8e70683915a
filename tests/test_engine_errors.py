"""An engine that is not there: every verb that asks it answers one line, exit 1, naming DOCKER_HOST.

DOCKER_HOST points at a socket that does not exist, or at one that exists and is no Docker engine
(it answers every connection with a line of text).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.engine import EngineError
from builder.cli.commands import _smoke_gate
from builder.config.project import load_project
from builder.locking.lockfile import load_lockfile
from tests.fakes.server import UnixServer
from tests.helpers import run_cli

MISSING = "unix:///nonexistent.sock"


@pytest.fixture
def not_docker() -> Iterator[str]:
    """A Unix socket that answers whatever it is sent with a line of text, as no Docker engine would."""
    folder = Path(tempfile.mkdtemp(prefix="builder-sock-"))  # short: a socket path has ~100 bytes
    server = UnixServer(folder / "s", lambda _: b"this is not a docker engine\n")
    yield f"unix://{folder / 's'}"
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def one_line_naming(output: str, host: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, output
    assert "internal error" not in output and "Traceback" not in output
    assert f"DOCKER_HOST={host}" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "verb",
    [
        ("build", "--all"),
        ("build", "base", "--push"),
        ("smoke", "base"),
        ("manifest", "--all"),
        ("base-image",),
    ],
    ids=lambda verb: " ".join(verb),
)
def test_each_verb_that_asks_the_engine_says_so_in_one_line(
    minimal_project: Path, monkeypatch: pytest.MonkeyPatch, verb: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", MISSING)
    result = run_cli(minimal_project, *verb)
    assert result.exit_code == 1, result.output
    line = one_line_naming(result.output, MISSING)
    assert "no Docker engine answers" in line and "unset DOCKER_HOST" in line


def test_doctor_names_docker_host_in_its_docker_line(
    minimal_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", MISSING)
    (minimal_project / "builder.yaml").write_text(  # the local store (no AWS to ask) and a registry host
        "registry: localhost:5000/scanners\nplatforms: [linux/amd64]\n"
        f"base_images: {{debian: {{ref: example.test/debian, digest: 'sha256:{'1' * 64}'}}}}\n"
    )
    result = run_cli(minimal_project, "doctor")
    assert result.exit_code == 1
    found = {line.split()[1]: line for line in result.output.splitlines() if line.startswith(("ok", "FAIL"))}
    for area in ("docker", "registry"):  # the registry is asked through the engine too
        assert found[area].startswith(f"FAIL  {area} ")
        assert f"no Docker engine answers at DOCKER_HOST={MISSING}" in found[area]


def test_the_smoke_gate_of_build_push_says_so_too(
    minimal_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", MISSING)
    gate = _smoke_gate(load_project(minimal_project), load_lockfile(minimal_project), print, {})
    with pytest.raises(EngineError) as caught:
        gate("base", "builder/base:0123456789ab-amd64")
    message = str(caught.value)
    assert message.startswith("cannot start builder/base:0123456789ab-amd64 to smoke-test it: ")
    assert f"no Docker engine answers at DOCKER_HOST={MISSING} (No such file or directory)" in message


@pytest.mark.parametrize("verb", [("smoke", "base"), ("build", "--all")], ids=" ".join)
def test_a_socket_that_is_no_docker_engine(
    minimal_project: Path, monkeypatch: pytest.MonkeyPatch, not_docker: str, verb: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", not_docker)
    result = run_cli(minimal_project, *verb)
    assert result.exit_code == 1, result.output
    assert "no Docker engine answers" in one_line_naming(result.output, not_docker)
