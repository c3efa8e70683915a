"""BuildKit builds through the docker CLI (docker-py has no BuildKit), streamed, with failures explained."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.building.engine import DockerClient
from builder.building.engine_api import image_sizes
from builder.config.platforms import Platform
from builder.errors import UserError
from builder.plumbing.progress import BuildKitLog
from builder.plumbing.redact import redact

_TAIL = 40


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    tag: str
    platform: Platform
    secrets: Mapping[str, Path] = field(default_factory=dict)
    network: str | None = None
    no_cache: bool = False


class BuildError(UserError):
    def __init__(self, tag: str, step: str, reason: str, tail: list[str], stage: str = "") -> None:
        super().__init__(f"build of {tag} failed")
        self.tag, self.step, self.reason, self.tail, self.stage = tag, step, reason, tail, stage

    def __str__(self) -> str:
        stage = f" (stage {self.stage})" if self.stage else ""
        return f"build of {self.tag} failed at {_short(self.step)}: {_short_reason(self.reason)}{stage}"

    def tail_lines(self) -> list[str]:
        """What the error line cannot hold: the failing step's own last lines, for a person to read."""
        where = f"stage {self.stage}" if self.stage else "the build"
        return [f"{where}, its last {len(self.tail)} lines:", *(f"  | {line}" for line in self.tail)]


def _short(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _short_reason(reason: str) -> str:
    # BuildKit repeats the whole command: "executor failed running [/bin/sh -c ...]: exit code: 1".
    if "]: " in reason and len(reason) > 120:
        return "the command failed: " + reason.rsplit("]: ", 1)[1]
    return reason


def build_argv(client: DockerClient, request: BuildRequest) -> list[str]:
    argv = [*client.build_argv(), "--progress=plain", "--platform", str(request.platform)]
    for secret_id, path in sorted(request.secrets.items()):
        argv += ["--secret", f"id={secret_id},src={path}"]
    if request.network:
        argv += ["--network", request.network]
    if request.no_cache:
        argv.append("--no-cache")
    return [*argv, "--tag", request.tag, str(request.context)]


def build(
    client: DockerClient,
    request: BuildRequest,
    on_line: Callable[[str], None],
    secrets: tuple[str, ...] = (),
    log: BuildKitLog | None = None,
) -> None:
    """Run one build, streaming each (redacted) line; BuildError names the failing step and its tail.

    ``log`` follows BuildKit's progress (each stage as it finishes); the tail is the failing
    step's own last lines, not whatever a parallel stage printed meanwhile.
    """
    env = client.build_env(os.environ)
    log = log or BuildKitLog()
    tail: deque[str] = deque(maxlen=_TAIL)
    with subprocess.Popen(
        build_argv(client, request), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = redact(raw.rstrip("\n"), secrets)
            on_line(line)
            tail.append(line)
            log.feed(line)
    if process.returncode != 0:
        failed = log.failed()
        if failed is None:
            raise BuildError(request.tag, "the build", f"exit status {process.returncode}", list(tail))
        raise BuildError(
            request.tag, failed.step, failed.reason, list(failed.tail) or list(tail), failed.stage
        )


def image_exists(client: DockerClient, tag: str) -> bool:
    done = subprocess.run([client.path, "image", "inspect", tag], capture_output=True, check=False)
    return done.returncode == 0


def inspect_tags(client: DockerClient, tags: Iterable[str]) -> dict[str, int | None]:
    """The tags the engine holds, each with its image's size, in one docker call (each is a CLI start).

    A tag missing, or an engine that does not answer, leaves it out: the build then builds it, and
    a dead engine gets its own error there.
    """
    wanted = sorted(set(tags))
    if not wanted:
        return {}
    asked = image_sizes(client.socket, wanted) if client.socket else None
    if asked is not None:
        return asked
    done = subprocess.run(
        [client.path, "image", "inspect", "--format", "{{json .RepoTags}}\t{{.Size}}", "--", *wanted],
        capture_output=True,
        text=True,
        check=False,
    )
    held: dict[str, int | None] = {}
    for line in done.stdout.splitlines():
        repo_tags, _, size = line.partition("\t")
        try:
            names = {_short_name(str(name)) for name in json.loads(repo_tags) or ()}
        except (ValueError, TypeError):
            continue  # not an answer this code asked for: the tag counts as absent
        held.update(
            (tag, int(size) if size.isdigit() else None) for tag in wanted if _short_name(tag) in names
        )
    return held


def _short_name(tag: str) -> str:
    """A tag as the engine lists it in RepoTags: Docker Hub's host and ``library/`` are left off."""
    for prefix in ("docker.io/", "library/"):
        tag = tag.removeprefix(prefix)
    return tag


def image_size(client: DockerClient, tag: str) -> int | None:
    done = subprocess.run(
        [client.path, "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=False,
    )
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else None


_PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_DENIED = ("unauthorized", "denied", "authentication required", "no basic auth credentials")


def push(client: DockerClient, tag: str, on_line: Callable[[str], None]) -> str:
    """Push ``tag``; return the manifest digest the registry now holds it under."""
    done = subprocess.run([client.path, "push", tag], capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    for line in output.splitlines():
        on_line(redact(line))
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise UserError(f"docker push {tag} failed: {redact(last)}{_push_hint(tag, last)}")
    found = _PUSHED.findall(output)
    if not found:
        raise UserError(f"docker push {tag} printed no manifest digest; the push cannot be confirmed")
    return str(found[-1])


def registry_has(client: DockerClient, tag: str) -> bool:
    """Does the registry already hold ``tag``? (A tag names its content, so that image needs no work.)"""
    argv = [client.path, "manifest", "inspect"]
    if _loopback(tag.split("/", 1)[0]):
        argv.append("--insecure")  # the engine, too, speaks plain HTTP to registries on 127.0.0.0/8
    done = subprocess.run([*argv, tag], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return True
    message = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    if "no such manifest" in message or "manifest unknown" in message:
        return False
    raise UserError(f"cannot ask the registry for {tag}: {redact(message)}{_push_hint(tag, message)}")


def push_index(client: DockerClient, index: str, members: list[str], on_line: Callable[[str], None]) -> str:
    """Push a multi-platform image index naming ``members`` (already pushed); return its digest."""
    insecure = ["--insecure"] if _loopback(index.split("/", 1)[0]) else []
    steps = (
        [client.path, "manifest", "create", "--amend", *insecure, index, *members],
        [client.path, "manifest", "push", "--purge", *insecure, index],  # --purge: no local copy to go stale
    )
    output = ""
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        for line in (done.stdout + done.stderr).splitlines():
            on_line(redact(line))
        if done.returncode != 0:
            last = redact((done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1])
            raise UserError(f"docker manifest {argv[2]} {index} failed: {last}{_push_hint(index, last)}")
        output = done.stdout
    found = re.findall(r"sha256:[0-9a-f]{64}", output)
    if not found:
        raise UserError(f"docker manifest push {index} printed no digest; the push cannot be confirmed")
    return str(found[-1])


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name == "localhost" or name.startswith("127.")


def _push_hint(tag: str, message: str) -> str:
    registry = tag.split("/", 1)[0]
    if any(word in message.lower() for word in _DENIED):
        return f" (log in first: docker login {registry}; for ECR, pipe aws ecr get-login-password into it)"
    if "connection refused" in message or "no such host" in message:
        return f" (is the registry {registry} in builder.yaml's `registry` reachable from the Docker engine?)"
    return ""
