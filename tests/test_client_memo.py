"""The remembered docker client: reused while nothing it depended on changed, probed again otherwise."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.building.client_memo import remembered_client
from builder.building.engine import DockerClient, EngineError
from tests.fakes.engine import FakeEngine as Engine
from tests.test_engine import fake_docker


class Counting:
    """subprocess.run, counting the programs started (each probe question is one)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        return subprocess.run(argv, **kwargs)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    found = Engine(tmp_path / "docker.sock")
    yield found
    if found.path.exists():
        found.stop()


@pytest.fixture
def setup(tmp_path: Path, engine: Engine) -> tuple[dict[str, str], Path, str]:
    bin_dir = tmp_path / "bin"
    path = fake_docker(bin_dir / "docker", "28.2.2", buildx=True)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home"), "DOCKER_HOST": f"unix://{engine.path}"}
    return env, tmp_path / "cache", path


def test_the_second_find_starts_no_program(setup: tuple[dict[str, str], Path, str], engine: Engine) -> None:
    env, cache, path = setup
    first, second = Counting(), Counting()
    assert remembered_client(None, env, cache, first) == DockerClient(
        path, buildx=True, socket=str(engine.path)
    )
    assert len(first.calls) >= 3  # version, engine, buildx
    pings = engine.pings  # /usr/bin/docker, a candidate too, asked this fake engine while probed
    assert remembered_client(None, env, cache, second) == DockerClient(
        path, buildx=True, socket=str(engine.path)
    )
    assert second.calls == []
    assert engine.pings == pings + 1  # the memo is used only once the engine answered
    assert (cache / "docker-client.json").stat().st_mode & 0o777 == 0o600


def test_a_replaced_client_is_probed_again(setup: tuple[dict[str, str], Path, str]) -> None:
    env, cache, path = setup
    remembered_client(None, env, cache)
    fake_docker(Path(path), "28.2.2", buildx=False)  # buildx removed: a 28 client cannot build now
    run = Counting()
    with pytest.raises(EngineError, match="no BuildKit-capable docker client"):
        remembered_client(None, env, cache, run)
    assert run.calls


def test_an_engine_that_stopped_gets_the_probe_and_its_error(engine: Engine, tmp_path: Path) -> None:
    client = tmp_path / "bin/docker"
    client.parent.mkdir()
    client.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  --version) echo 'Docker version 28.2.2, build 0' ;;\n"
        f"  info) test -S {engine.path} && echo 28.2.2 || {{ echo 'Cannot connect' >&2; exit 1; }} ;;\n"
        "  buildx) echo 'github.com/docker/buildx v0.20.1 abc' ;;\n"
        "esac\n"
    )
    client.chmod(0o755)
    env = {"PATH": str(client.parent), "HOME": str(tmp_path), "DOCKER_HOST": f"unix://{engine.path}"}
    assert remembered_client(None, env, tmp_path / "cache") == DockerClient(
        str(client), True, str(engine.path)
    )
    engine.stop()  # same client, same files: only the engine is gone
    run = Counting()
    with pytest.raises(EngineError, match="no Docker engine answers at DOCKER_HOST="):
        remembered_client(None, env, tmp_path / "cache", run)
    assert [str(client), "info", "--format", "{{.ServerVersion}}"] in run.calls


def test_a_memo_naming_another_program_is_not_used(
    setup: tuple[dict[str, str], Path, str], tmp_path: Path, engine: Engine
) -> None:
    env, cache, path = setup
    remembered_client(None, env, cache)
    memo = cache / "docker-client.json"
    data = json.loads(memo.read_text())
    planted = fake_docker(tmp_path / "planted/docker", "28.2.2", buildx=True)
    memo.write_text(json.dumps({**data, "path": planted}))
    run = Counting()
    assert remembered_client(None, env, cache, run) == DockerClient(
        path, buildx=True, socket=str(engine.path)
    )
    assert run.calls and all(call[0] != planted for call in run.calls)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"key": 1}', '{"key": "x", "path": 3, "buildx": true}'])
def test_an_unreadable_memo_means_a_probe(
    setup: tuple[dict[str, str], Path, str], text: str, engine: Engine
) -> None:
    env, cache, path = setup
    cache.mkdir(parents=True)
    (cache / "docker-client.json").write_text(text)
    run = Counting()
    assert remembered_client(None, env, cache, run) == DockerClient(
        path, buildx=True, socket=str(engine.path)
    )
    assert run.calls
    assert json.loads((cache / "docker-client.json").read_text())["path"] == path


@pytest.mark.parametrize("variable", ["DOCKER_HOST=tcp://127.0.0.1:2375", "DOCKER_CONTEXT=remote"])
def test_an_engine_not_on_a_local_socket_is_probed_every_time(
    setup: tuple[dict[str, str], Path, str], variable: str
) -> None:
    env, cache, _ = setup
    name, _, value = variable.partition("=")
    env = {**env, name: value}
    runs = [Counting(), Counting()]
    for run in runs:
        with contextlib.suppress(
            EngineError
        ):  # what the fake answers does not matter: that it was asked does
            remembered_client(None, env, cache, run)
    assert all(run.calls for run in runs)
    assert not (cache / "docker-client.json").exists()


def test_a_current_context_in_dockers_config_is_probed_every_time(
    setup: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, cache, _ = setup
    (tmp_path / "home/.docker").mkdir(parents=True)
    (tmp_path / "home/.docker/config.json").write_text('{"currentContext": "colima"}')
    remembered_client(None, env, cache)
    run = Counting()
    remembered_client(None, env, cache, run)
    assert run.calls
