"""The rendered Dockerfiles, really built by BuildKit on the engine's built-in frontend and run.

Binary tools are served as real archives (tar.gz with a top folder, zip, bare executable) whose
digests the lockfile records; a byte changed in one of them stops the build in its stage.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.build_context import SBOM_FILE, image_sbom
from builder.building.engine import DockerClient, find_client
from builder.building.render import plan_images, render_project
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile
from tests.conftest import REPO
from tests.fakes.evidence import TESTED
from tests.helpers import remove_images

pytestmark = pytest.mark.docker
AMD64 = Platform("linux", "amd64")

TOOLS = """\
tools:
  hello:
    source: github
    repository: example/hello
    install: archive
    strip_components: 1
    assets: {linux/amd64: "hello-{version}.tar.gz"}
    entry_points: {hello: bin/hello}
    check: {command: [hello, --version], pattern: 'hello (\\S+)'}
  zippy:
    source: hashicorp
    product: zippy
    install: archive
    assets: {linux/amd64: "zippy_{version}_linux_amd64.zip"}
    check: {command: [zippy, version], pattern: 'zippy v(\\S+)'}
  solo:
    source: github
    repository: example/solo
    install: binary
    assets: {linux/amd64: solo-linux-amd64}
    env: {SOLO_MODE: quiet}
    check: {command: [solo], pattern: '(\\S+)'}
"""


def script(text: str) -> bytes:
    return f"#!/bin/sh\necho '{text}'\n".encode()


def tar_gz(top: str, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ARTIFACTS = {
    "hello": (
        "1.2.3",
        "hello-1.2.3.tar.gz",
        tar_gz("hello-1.2.3", {"bin/hello": script("hello 1.2.3")}),
    ),
    "zippy": ("2.1.0", "zippy_2.1.0_linux_amd64.zip", zip_of({"zippy": script("zippy v2.1.0")})),
    "solo": ("0.9.0", "solo-linux-amd64", script("0.9.0")),
}


@pytest.fixture
def project(tmp_path: Path, base_image: str) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "images/base", root / "images/base")
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text("base: {image: base}\ntools: [solo, zippy, hello]\n")
    (root / "tools.yaml").write_text(TOOLS)
    registry = f"builder-test-{secrets.token_hex(3)}"
    (root / "builder.yaml").write_text(
        f"registry: {registry}\nplatforms: [linux/amd64]\nbase_images: {{debian: {{ref: '{base_image}'}}}}\n"
    )
    lock = Lockfile()
    for name, (version, file, data) in ARTIFACTS.items():
        artifact = Artifact(
            file, f"https://example.test/{file}", hashlib.sha256(data).hexdigest(), len(data), evidence=TESTED
        )
        lock = lock.with_tool(LockedTool(name, version, Artifacts({AMD64: artifact})))
    write_lockfile(root, lock)
    return root


@pytest.fixture
def client() -> Iterator[DockerClient]:
    found = find_client(None, os.environ)
    yield found
    remove_images(found, "builder-test-")


def build(
    client: DockerClient, root: Path, image: str, artifacts: dict[str, bytes]
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Assemble the context (rendered folder + artifacts + SBOM) and build one image for linux/amd64."""
    project, lock = load_project(root), load_lockfile(root)
    context = root / "context" / image
    shutil.copytree(root / "buildspecs" / image, context)
    (context / SBOM_FILE).write_bytes(
        image_sbom(project, plan_images(project, lock)[image], (AMD64,), baked=True)
    )
    for tool in project.images[image].tools:
        locked = lock.tools[tool].payload.files[AMD64]
        (context / "artifacts" / tool).mkdir(parents=True, exist_ok=True)
        (context / "artifacts" / tool / locked.file).write_bytes(artifacts[tool])
    tag = f"{project.settings.registry}/{image}:{plan_images(project, lock)[image].tag}-amd64"
    argv = [*client.build_argv(), "--platform", "linux/amd64", "--tag", tag, str(context)]
    done = subprocess.run(argv, env=client.build_env(os.environ), capture_output=True, text=True, check=False)
    return tag, done


def render(root: Path) -> None:
    for path, data in render_project(load_project(root), load_lockfile(root)).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def run(client: DockerClient, *args: str) -> str:
    return subprocess.run([client.path, *args], capture_output=True, text=True, check=True).stdout.strip()


def test_rendered_images_build_and_run_their_tools(project: Path, client: DockerClient) -> None:
    render(project)
    data = {name: blob for name, (_, _, blob) in ARTIFACTS.items()}
    _, done = build(client, project, "base", {})
    assert done.returncode == 0, done.stderr[-3000:]
    tag, done = build(client, project, "tools", data)
    assert done.returncode == 0, done.stderr[-3000:]
    assert run(client, "run", "--rm", tag, "hello", "--version") == "hello 1.2.3"
    assert run(client, "run", "--rm", tag, "zippy", "version") == "zippy v2.1.0"
    assert run(client, "run", "--rm", tag, "solo") == "0.9.0"
    assert run(client, "run", "--rm", tag, "id", "-u") == "10001"
    assert run(client, "run", "--rm", tag, "pwd") == "/work"
    assert run(client, "run", "--rm", tag, "sh", "-c", "echo $SOLO_MODE") == "quiet"
    labels = run(client, "image", "inspect", "--format", "{{json .Config.Labels}}", tag)
    assert '"builder.tools":"solo=0.9.0 zippy=2.1.0 hello=1.2.3"' in labels
    # Only payloads reach the final image: no downloaded archive, no checksum file.
    assert run(client, "run", "--rm", tag, "sh", "-c", "ls /tmp /out 2>&1 || true").startswith(
        "ls: cannot access '/out'"
    )


def test_a_changed_byte_stops_the_build_in_that_tools_stage(project: Path, client: DockerClient) -> None:
    render(project)
    _, done = build(client, project, "base", {})
    assert done.returncode == 0, done.stderr[-3000:]
    data = {name: blob for name, (_, _, blob) in ARTIFACTS.items()}
    data["zippy"] = data["zippy"][:-1] + bytes([data["zippy"][-1] ^ 1])
    tag, done = build(client, project, "tools", data)
    assert done.returncode != 0
    assert "zippy_2.1.0_linux_amd64.zip: FAILED" in done.stderr
    listed = subprocess.run([client.path, "image", "inspect", tag], capture_output=True, check=False)
    assert listed.returncode != 0, "a failed build must not leave a tagged image"
