"""Find a docker client that builds with BuildKit against a Docker engine that answers.

docker-py has no BuildKit, so builds shell out to a docker CLI. Two kinds of client can
build with BuildKit: one with the buildx plugin (`docker buildx build`), and a client from
18.09 up to 20.10, which does it natively under `DOCKER_BUILDKIT=1 docker build`. From 23.0
on, a client without buildx refuses BuildKit ("the buildx component is missing"), which is
what the `docker` on PATH of a fresh CI machine does; Debian's docker.io brings a 20.10
client beside its engine, and scripts/provision-docker sets that up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuilderError, UserError

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
Which = Callable[[str, Mapping[str, str]], "str | None"]

ENV_VAR = "BUILDER_DOCKER"
HOST_VAR = "DOCKER_HOST"  # the engine every docker client (the CLI, docker-py) asks, when set
_PACKAGE = "docker.io"
PACKAGE_CLIENTS = ("/usr/bin/docker",)
_NATIVE_BUILDKIT = ((18, 9), (23, 0))
_PROBE_TIMEOUT = 30.0

_INSTALL_ENGINE = "install Debian's docker.io and start dockerd (scripts/provision-docker does both)"
_INSTALL_BUILDKIT = (
    "install the docker buildx plugin, or Debian's docker.io, whose 20.10 client builds with "
    f"BuildKit natively (scripts/provision-docker installs it and prints its path for {ENV_VAR})"
)

_VERSION = re.compile(r"^Docker version ([^,\s]+)")
_NUMBERS = re.compile(r"^(\d+)\.(\d+)")


class EngineError(UserError):
    """Docker cannot build here: holds what was tried and names what to install."""

    def __init__(self, problem: str, remedy: str, tried: Sequence[Probe] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.remedy = remedy
        self.tried = tuple(tried)

    def __str__(self) -> str:
        tried = "; ".join(str(found) for found in self.tried)
        where = f" (tried {tried})" if tried else ""
        return f"{self.problem}{where}: {self.remedy}"


@dataclass(frozen=True)
class DockerClient:
    """A docker CLI that builds with BuildKit, through buildx or natively."""

    path: str
    buildx: bool
    socket: str | None = None  # the engine's local unix socket, when builder may ask it directly

    def build_argv(self) -> list[str]:
        if self.buildx:
            # --load: a builder with the docker-container driver keeps results in its own cache otherwise.
            return [self.path, "buildx", "build", "--load"]
        return [self.path, "build"]

    def build_env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, "DOCKER_BUILDKIT": "1"}


@dataclass(frozen=True)
class Probe:
    """What one candidate client answered."""

    path: str
    version: str | None
    engine: bool
    buildx: bool

    @property
    def native_buildkit(self) -> bool:
        found = _NUMBERS.match(self.version or "")
        if found is None:
            return False
        low, high = _NATIVE_BUILDKIT
        return low <= (int(found[1]), int(found[2])) < high

    def __str__(self) -> str:
        engine = "engine answers" if self.engine else "no engine"
        buildx = "buildx" if self.buildx else "no buildx"
        return f"{self.path} {self.version or 'of unknown version'}, {engine}, {buildx}"


def _which_on_path(name: str, env: Mapping[str, str]) -> str | None:
    """`shutil.which` on the PATH of `env` (not of this process)."""
    return shutil.which(name, path=env.get("PATH", os.defpath))


def find_client(
    configured: str | None,
    env: Mapping[str, str],
    run: Runner = subprocess.run,
    *,
    which: Which = _which_on_path,
    package_clients: Sequence[str] = PACKAGE_CLIENTS,
) -> DockerClient:
    """The configured client, else $BUILDER_DOCKER, else the best one found; or EngineError."""
    chosen = configured or env.get(ENV_VAR)
    paths = [_resolve(chosen, env, which)] if chosen else _candidates(env, run, which, package_clients)
    with ThreadPoolExecutor(max_workers=max(1, len(paths))) as pool:  # probes answer in ~20 ms each
        return _choose(list(pool.map(lambda path: _probe(path, env, run), paths)), env)


def _candidates(
    env: Mapping[str, str], run: Runner, which: Which, package_clients: Sequence[str]
) -> list[str]:
    """`docker` on PATH, then docker.io's own client, each real file once."""
    found = [which("docker", env), *package_clients, *_package_clients(env, run, which)]
    return _unique(path for path in found if path and _executable(path))


def _probe(path: str, env: Mapping[str, str], run: Runner) -> Probe:
    questions = (
        [path, "--version"],
        [path, "info", "--format", "{{.ServerVersion}}"],
        [path, "buildx", "version"],
    )
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        said, server, buildx = pool.map(lambda argv: _answer(run, argv, env), questions)
    version = _VERSION.match(said or "")
    return Probe(
        path=path,
        version=version[1] if version else None,
        engine=bool(server and server.strip()),
        buildx=buildx is not None,
    )


def _choose(probes: Sequence[Probe], env: Mapping[str, str] | None = None) -> DockerClient:
    """Prefer buildx, then a native-BuildKit client, among clients the engine answers."""
    if not probes:
        raise EngineError(f"no docker client on PATH nor from Debian's {_PACKAGE}", _INSTALL_ENGINE)
    answered = [found for found in probes if found.engine]
    if not answered:
        raise EngineError(f"no Docker engine answers{_at(env or {})}", _engine_remedy(env or {}), probes)
    for found in answered:
        if found.buildx:
            return DockerClient(found.path, buildx=True)
    for found in answered:
        if found.native_buildkit:
            return DockerClient(found.path, buildx=False)
    raise EngineError("no BuildKit-capable docker client", _INSTALL_BUILDKIT, probes)


def _resolve(name: str, env: Mapping[str, str], which: Which) -> str:
    path = name if os.sep in name else which(name, env)
    if path is None or not _executable(path):
        raise EngineError(
            f"the configured docker client {name!r} is not an executable file",
            f"point {ENV_VAR} or the docker.client setting at a docker client, or unset both",
        )
    return path


def _package_clients(env: Mapping[str, str], run: Runner, which: Which) -> list[str]:
    dpkg = which("dpkg", env)
    listing = _answer(run, [dpkg, "-L", _PACKAGE], env) if dpkg else None
    return [line for line in (listing or "").splitlines() if line.endswith("bin/docker")]


def _answer(run: Runner, argv: list[str], env: Mapping[str, str]) -> str | None:
    """The command's stdout if it exits 0 within the time limit, else None."""
    try:
        done = run(
            argv,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _unique(paths: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path), path)
    return list(seen.values())


def _at(env: Mapping[str, str]) -> str:
    return f" at {HOST_VAR}={env[HOST_VAR]}" if env.get(HOST_VAR) else ""


def _engine_remedy(env: Mapping[str, str]) -> str:
    if env.get(HOST_VAR):
        return f"start the engine {HOST_VAR} names, or unset {HOST_VAR} to use the default socket"
    return _INSTALL_ENGINE


@contextmanager
def engine_calls(doing: str, env: Mapping[str, str] = os.environ) -> Iterator[None]:
    """The one boundary of docker-py and testcontainers: their errors become one line, exit 1.

    An engine that cannot be reached is an EngineError naming DOCKER_HOST when it is set; one that
    answered with an error says what it answered.
    """
    try:
        yield
    except BuilderError:
        raise
    except Exception as e:
        failure = _engine_failure(doing, e, env)
        if failure is None:
            raise
        raise failure from None


def _engine_failure(doing: str, error: Exception, env: Mapping[str, str]) -> UserError | None:
    import docker.errors  # imported late: only the verbs that run containers need docker-py
    import requests
    from testcontainers.core import exceptions as testcontainers_errors

    if isinstance(error, docker.errors.APIError):
        return UserError(f"cannot {doing}: the Docker engine{_at(env)} answered: {_first_line(error)}")
    known = (
        docker.errors.DockerException,
        requests.RequestException,
        testcontainers_errors.ContainerStartException,
    )
    if not isinstance(error, known):
        return None
    return EngineError(
        f"cannot {doing}: no Docker engine answers{_at(env)} ({_cause(error)})", _engine_remedy(env)
    )


def _cause(error: BaseException) -> str:
    """The innermost operating-system error under docker-py's and urllib3's wrappers, else the first line."""
    seen, todo = set(), [error]
    while todo:
        current = todo.pop(0)
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        if id(current) not in seen:
            seen.add(id(current))
            nested = [current.__cause__, current.__context__, *current.args]
            todo += [item for item in nested if isinstance(item, BaseException)]
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
