"""The docker client the last probe chose, remembered so that a no-op build skips the probe.

Probing asks each candidate client three questions (version, engine, buildx): three CLI starts,
most of what a no-op `builder build` would spend besides its own work. What they answer about
the client itself changes only when a file changes, so the choice is kept under a key made of
everything it depended on: the setting and variables that pick the client, and the identity
(device, inode, size, mtime, ctime) of each candidate file, of dpkg's database (which lists
docker.io's client) and of each folder docker loads its buildx plugin from. That the engine is
up is not remembered: a memo is used only after the engine's socket answers a ping, itself a
millisecond. An engine reached through anything but a local socket (tcp, ssh, a docker context)
is probed every time, as is everything when the memo is unreadable or of another key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from builder.building.engine import ENV_VAR, HOST_VAR, PACKAGE_CLIENTS, DockerClient, Runner, find_client
from builder.building.engine_api import config_folder, local_socket, pings
from builder.plumbing.fsutil import atomic_write

_MEMO = "docker-client.json"
_DPKG_STATUS = "/var/lib/dpkg/status"
_PLUGIN_FOLDERS = (  # where the docker CLI looks for docker-buildx, besides the user's config folder
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
_PICKS = ("PATH", "HOME", ENV_VAR, HOST_VAR, "DOCKER_CONTEXT", "DOCKER_CONFIG")


def remembered_client(
    configured: str | None, env: Mapping[str, str], folder: Path, run: Runner = subprocess.run
) -> DockerClient:
    """`find_client`, answered from the memo in ``folder`` while nothing it depended on changed."""
    socket_path = local_socket(env)
    files = _files(configured, env)
    key = _key(configured, env, files) if socket_path else None
    if key is not None and socket_path is not None:
        found = _read(folder / _MEMO, key)
        # Only a file the key covers: a memo naming any other program is not ours.
        if found is not None and found.path in files and pings(socket_path):
            return dataclasses.replace(found, socket=socket_path)
    client = find_client(configured, env, run)
    if key is not None:
        _write(folder / _MEMO, key, client)
    return dataclasses.replace(client, socket=socket_path)


def _files(configured: str | None, env: Mapping[str, str]) -> list[str]:
    """Every file whose change could change the probe's answer (the candidates among them)."""
    plugins = [str(config_folder(env) / "cli-plugins"), *_PLUGIN_FOLDERS]
    files = [*_on_path("docker", env), *PACKAGE_CLIENTS, _DPKG_STATUS, *plugins]
    files += [f"{folder}/docker-buildx" for folder in plugins]
    chosen = configured or env.get(ENV_VAR)
    if chosen:
        files += [chosen, *_on_path(chosen, env)]
    return files


def _key(configured: str | None, env: Mapping[str, str], files: list[str]) -> str:
    picked = {name: env.get(name) for name in _PICKS}
    parts = {"configured": configured, "env": picked, "files": {f: _identity(f) for f in files}}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _on_path(name: str, env: Mapping[str, str]) -> list[str]:
    if os.sep in name:
        return []
    return [str(Path(folder) / name) for folder in env.get("PATH", os.defpath).split(os.pathsep) if folder]


def _identity(path: str) -> list[int] | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _read(path: Path, key: str) -> DockerClient | None:
    try:
        data = json.loads(path.read_bytes())
        if data["key"] != key or not isinstance(data["path"], str) or not isinstance(data["buildx"], bool):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: probe
    client = DockerClient(data["path"], data["buildx"])
    return client if os.access(client.path, os.X_OK) else None


def _write(path: Path, key: str, client: DockerClient) -> None:
    data = {"key": key, "path": client.path, "buildx": client.buildx}
    with contextlib.suppress(OSError):  # a read-only cache costs the next run a probe, nothing else
        atomic_write(path, json.dumps(data).encode() + b"\n", mode=0o600)
