"""Asking the engine directly (one millisecond) instead of starting the docker CLI (twenty)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.buildkit import inspect_tags
from builder.building.engine import DockerClient
from builder.building.engine_api import image_sizes, local_socket, pings
from tests.conftest import BASE_IMAGE
from tests.fakes.engine import FakeEngine

TAG = "localhost:5000/tiny:0123456789ab-amd64"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[FakeEngine]:
    found = FakeEngine(tmp_path / "docker.sock", {TAG: 4096})
    yield found
    if found.path.exists():
        found.stop()


def test_held_tags_come_with_their_sizes_and_absent_ones_are_left_out(engine: FakeEngine) -> None:
    assert image_sizes(str(engine.path), [TAG, "localhost:5000/tiny:other-amd64"]) == {TAG: 4096}
    assert engine.requests[0] == "GET /images/localhost:5000/tiny:0123456789ab-amd64/json HTTP/1.0"


def test_an_answer_that_is_not_http_means_ask_the_cli(engine: FakeEngine, tmp_path: Path) -> None:
    engine.garbage = True
    assert image_sizes(str(engine.path), [TAG]) is None
    assert not pings(str(engine.path))
    cli = tmp_path / "docker"
    cli.write_text(f"#!/bin/sh\nprintf '[\"{TAG}\"]\\t77\\n'\n")  # what `docker image inspect --format` says
    cli.chmod(0o755)
    assert inspect_tags(DockerClient(str(cli), True, str(engine.path)), [TAG]) == {TAG: 77}


def test_no_engine_on_the_socket_means_ask_the_cli(tmp_path: Path) -> None:
    assert image_sizes(str(tmp_path / "absent.sock"), [TAG]) is None
    assert not pings(str(tmp_path / "absent.sock"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
        ({"DOCKER_HOST": "tcp://127.0.0.1:2376"}, None),
        ({"DOCKER_HOST": "ssh://me@host"}, None),
        ({"DOCKER_CONTEXT": "rootless"}, None),
    ],
)
def test_only_a_local_socket_is_spoken_to(env: dict[str, str], expected: str | None, tmp_path: Path) -> None:
    assert local_socket({"HOME": str(tmp_path), **env}) == expected


@pytest.mark.docker
def test_the_real_engine_says_what_the_cli_says(client: DockerClient, base_image: str) -> None:
    socket_path = local_socket({})
    assert socket_path is not None and pings(socket_path)
    tags = [BASE_IMAGE, "builder-test-absent:never"]
    direct = inspect_tags(DockerClient(client.path, client.buildx, socket_path), tags)
    through_cli = inspect_tags(client, tags)
    assert direct == through_cli
    assert set(direct) == {BASE_IMAGE}
    assert (direct[BASE_IMAGE] or 0) > 10_000_000  # a Debian base is tens of MB
