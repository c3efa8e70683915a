"""Guards every test: no real home or cache directory, no network beyond this machine."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.building.engine import DockerClient, find_client
from tests.fakes.pgp import KeySet, Switchboard, session_keys, switchboard
from tests.registry import Registry, remove_tagged, serve_registry

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECT_FILES = ("builder.yaml", "tools.yaml", "builder.lock", "images", "templates", "buildspecs")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # Set here so that what the Lambda handler sets by default (lambda_cache) is undone after the test.
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    # The bump PR audits against OSV: nowhere, unless a test serves a fake (port 9 refuses).
    monkeypatch.setenv("BUILDER_OSV_API", "http://127.0.0.1:9")


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets (the Docker engine) are local
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_remote_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise AssertionError(f"test tried to reach {address}: only 127.0.0.1 is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


def copy_project(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, dest / name)
        elif path.is_file():
            shutil.copy2(path, dest / name)
    return dest


@pytest.fixture
def repo_project(tmp_path: Path) -> Path:
    """A copy of the shipped project (definitions, lock, templates, rendered output)."""
    return copy_project(REPO, tmp_path / "project")


@pytest.fixture
def minimal_project(tmp_path: Path) -> Path:
    """A small project that exercises every install kind, with a fixed lockfile."""
    project = copy_project(FIXTURES / "minimal", tmp_path / "minimal")
    shutil.copytree(REPO / "templates", project / "templates")
    return project


BASE_IMAGE = "builder-debian:bookworm"


@pytest.fixture(scope="session")
def base_image() -> str:
    """The local Debian base image (made once, reused; fails, never skips, when it cannot be made)."""
    done = subprocess.run(
        [str(REPO / "scripts/make-base-image"), BASE_IMAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/make-base-image failed:\n{done.stderr}", pytrace=False)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> KeySet:
    """Throwaway OpenPGP keys (made once per session) laid out like builder/data/keys."""
    return session_keys(request.config, tmp_path_factory)


@pytest.fixture(scope="module")
def board() -> Iterator[Switchboard]:
    """One fake signed-upstream server per test module; each test plugs in a fresh fake."""
    with switchboard() as board:
        yield board


@pytest.fixture(scope="session")
def client() -> DockerClient:
    """The BuildKit-capable docker client the project itself would choose."""
    return find_client(None, {})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, client: DockerClient) -> Iterator[Registry]:
    """A real registry on 127.0.0.1 for one module; local images tagged for it go with it."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as found:
        yield found
    remove_tagged(client, f"{found.host}/")
