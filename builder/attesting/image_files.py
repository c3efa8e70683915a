"""Files and labels of a built image, read through the docker CLI without running the image."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

from builder.building.engine import DockerClient
from builder.errors import UserError
from builder.plumbing.redact import redact


def _docker(client: DockerClient, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([client.path, *args], capture_output=True, check=False)


def _failed(what: str, done: subprocess.CompletedProcess[bytes]) -> UserError:
    last = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return UserError(f"{what}: {redact(last)}")


def read_files(client: DockerClient, ref: str, paths: tuple[str, ...]) -> dict[str, bytes]:
    """The named files of image ``ref`` (a file it lacks is left out): a stopped container is copied from."""
    made = _docker(client, "create", ref, "/bin/true")
    if made.returncode != 0:
        raise _failed(f"cannot read files of {ref} (is it on this engine? `docker pull {ref}`)", made)
    container = made.stdout.decode().strip()
    try:
        return {path: data for path in paths if (data := _copy(client, container, path)) is not None}
    finally:
        _docker(client, "rm", container)


def _copy(client: DockerClient, container: str, path: str) -> bytes | None:
    done = _docker(client, "cp", "--follow-link", f"{container}:{path}", "-")  # /etc/os-release is a link
    if done.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        handle = archive.extractfile(member) if member else None
        return handle.read() if handle else None


def inspect(client: DockerClient, ref: str) -> dict[str, object]:
    """The engine's record of a local image (its Id, RepoDigests and Config.Labels)."""
    done = _docker(client, "image", "inspect", ref)
    if done.returncode != 0:
        raise _failed(f"cannot inspect {ref} (is it on this engine? `docker pull {ref}`)", done)
    found = json.loads(done.stdout)
    if not isinstance(found, list) or not found or not isinstance(found[0], dict):
        raise UserError(f"docker image inspect {ref} answered no image")
    return found[0]
