"""find_client against fake docker clients, and one real BuildKit build with a secret."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from builder.building.engine import DockerClient, EngineError, find_client

ROOT = Path(__file__).resolve().parent.parent

NO_ENGINE = (
    "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    " Is the docker daemon running?' >&2; exit 1"
)
NO_BUILDX = "echo 'docker: unknown command: docker buildx' >&2; exit 1"
FAKE = """#!/bin/sh
case "$1" in
  --version) echo 'Docker version {version}, build 0000000' ;;
  info) {info} ;;
  buildx) {buildx} ;;
  *) echo "fake docker: unexpected $*" >&2; exit 125 ;;
esac
"""


def fake_docker(path: Path, version: str, *, engine: bool = True, buildx: bool = False) -> str:
    """A shell script that answers --version, info and buildx like a real client would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        FAKE.format(
            version=version,
            info="echo 20.10.24+dfsg1" if engine else NO_ENGINE,
            buildx="echo 'github.com/docker/buildx v0.20.1 abc'" if buildx else NO_BUILDX,
        )
    )
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    return path


def env_for(bin_dir: Path) -> dict[str, str]:
    return {"PATH": str(bin_dir)}


def find(bin_dir: Path, *package_clients: str, configured: str | None = None) -> DockerClient:
    return find_client(configured, env_for(bin_dir), package_clients=package_clients)


def test_buildx_client_builds_through_buildx(bin_dir: Path) -> None:
    path = fake_docker(bin_dir / "docker", "28.2.2", buildx=True)
    client = find(bin_dir)
    assert client == DockerClient(path, buildx=True)
    assert client.build_argv() == [path, "buildx", "build", "--load"]


def test_native_buildkit_client_of_docker_io_is_chosen_over_28_without_buildx(
    bin_dir: Path, tmp_path: Path
) -> None:
    fake_docker(bin_dir / "docker", "28.2.2")
    native = fake_docker(tmp_path / "usr/bin/docker", "20.10.24+dfsg1")
    client = find(bin_dir, native)
    assert client == DockerClient(native, buildx=False)
    assert client.build_argv() == [native, "build"]


def test_docker_io_client_is_found_through_dpkg(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "28.2.2")
    native = fake_docker(tmp_path / "pkg/usr/bin/docker", "20.10.24+dfsg1")
    dpkg = bin_dir / "dpkg"
    dpkg.write_text(f"#!/bin/sh\nprintf '/usr/share/doc/docker.io\\n{native}\\n'\n")
    dpkg.chmod(0o755)
    assert find(bin_dir) == DockerClient(native, buildx=False)


def test_buildx_is_preferred_over_a_native_client(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "20.10.24+dfsg1")
    with_buildx = fake_docker(tmp_path / "other/docker", "27.5.1", buildx=True)
    assert find(bin_dir, with_buildx) == DockerClient(with_buildx, buildx=True)


def test_28_client_without_buildx_is_refused_with_what_to_install(bin_dir: Path) -> None:
    path = fake_docker(bin_dir / "docker", "28.2.2")
    with pytest.raises(EngineError) as caught:
        find(bin_dir)
    message = str(caught.value)
    assert message.startswith("no BuildKit-capable docker client")
    assert f"{path} 28.2.2, engine answers, no buildx" in message
    assert "buildx plugin" in message
    assert "docker.io" in message
    assert "\n" not in message


def test_no_engine_answering_names_docker_io_and_dockerd(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "28.2.2", engine=False)
    native = fake_docker(tmp_path / "usr/bin/docker", "20.10.24+dfsg1", engine=False)
    with pytest.raises(EngineError) as caught:
        find(bin_dir, native)
    message = str(caught.value)
    assert message.startswith("no Docker engine answers (tried ")
    assert f"{native} 20.10.24+dfsg1, no engine, no buildx" in message
    assert message.endswith(
        "install Debian's docker.io and start dockerd (scripts/provision-docker does both)"
    )


def test_no_client_at_all(bin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"^no docker client on PATH .*install Debian's"):
        find(bin_dir, str(tmp_path / "missing/docker"))


def test_configured_client_wins_over_buildx_on_path(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "28.2.2", buildx=True)
    native = fake_docker(tmp_path / "mine/docker", "20.10.24+dfsg1")
    assert find(bin_dir, configured=native) == DockerClient(native, buildx=False)


def test_builder_docker_variable_is_honoured(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "28.2.2", buildx=True)
    native = fake_docker(tmp_path / "mine/docker", "20.10.24+dfsg1")
    env = {**env_for(bin_dir), "BUILDER_DOCKER": native}
    assert find_client(None, env, package_clients=()) == DockerClient(native, buildx=False)


def test_configured_name_is_looked_up_on_path(bin_dir: Path) -> None:
    path = fake_docker(bin_dir / "docker-20", "20.10.24+dfsg1")
    assert find(bin_dir, configured="docker-20") == DockerClient(path, buildx=False)


def test_configured_client_that_does_not_exist(bin_dir: Path, tmp_path: Path) -> None:
    fake_docker(bin_dir / "docker", "28.2.2", buildx=True)
    with pytest.raises(EngineError, match=r"configured docker client '.*/nope' is not an exec"):
        find(bin_dir, configured=str(tmp_path / "nope"))


def test_configured_28_client_without_buildx_is_refused(bin_dir: Path) -> None:
    path = fake_docker(bin_dir / "docker", "28.2.2")
    with pytest.raises(EngineError, match="no BuildKit-capable docker client"):
        find(bin_dir, configured=path)


def test_client_that_is_not_docker_is_refused(bin_dir: Path) -> None:
    (bin_dir / "docker").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "docker").chmod(0o755)
    with pytest.raises(EngineError, match="of unknown version, no engine, buildx"):
        find(bin_dir)


def test_client_of_unreadable_version_without_buildx_is_refused(bin_dir: Path) -> None:
    path = fake_docker(bin_dir / "docker", "dev")
    with pytest.raises(EngineError, match=f"no BuildKit-capable .*{path} dev, engine answers"):
        find(bin_dir)


def test_hanging_engine_counts_as_not_answering(bin_dir: Path) -> None:
    fake_docker(bin_dir / "docker", "20.10.24+dfsg1")

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if argv[1] == "info":
            raise subprocess.TimeoutExpired(argv, kwargs["timeout"])
        return subprocess.run(argv, **kwargs)

    with pytest.raises(EngineError, match=r"^no Docker engine answers"):
        find_client(None, env_for(bin_dir), run, package_clients=())


def test_build_env_adds_buildkit_without_touching_base() -> None:
    base = {"PATH": "/bin"}
    env = DockerClient("/usr/bin/docker", buildx=False).build_env(base)
    assert env == {"PATH": "/bin", "DOCKER_BUILDKIT": "1"}
    assert base == {"PATH": "/bin"}


@pytest.mark.docker
def test_real_buildkit_build_reads_secret_and_keeps_it_out_of_the_image(
    base_image: str, tmp_path: Path
) -> None:
    client = find_client(None, os.environ)
    token = secrets.token_hex(16)
    (tmp_path / "token").write_text(token)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "RUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /tok-length\n"
    )
    tag = f"builder-test-engine:{secrets.token_hex(4)}"
    argv = [*client.build_argv(), "--no-cache", "--network", "host"]
    argv += ["--secret", f"id=tok,src={tmp_path / 'token'}", "-t", tag, str(context)]
    try:
        build = subprocess.run(
            argv, env=client.build_env(os.environ), capture_output=True, text=True, check=False
        )
        assert build.returncode == 0, build.stderr
        assert token not in build.stdout + build.stderr
        assert docker(client, "run", "--rm", tag, "cat", "/tok-length").strip() == "32"
        assert token not in docker(client, "history", "--no-trunc", tag)
        assert token not in docker(client, "image", "inspect", tag)
    finally:
        subprocess.run([client.path, "image", "rm", "-f", tag], capture_output=True, check=False)


def docker(client: DockerClient, *args: str) -> str:
    return subprocess.run([client.path, *args], capture_output=True, text=True, check=True).stdout
