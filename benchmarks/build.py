"""Build benchmark: what `builder build` costs beside BuildKit, on a tiny image and on a big one.

Prints, measured side by side in one run on this machine (each the median of --runs runs):
  no-op / cached docker build  (target <= 2x)   `builder build tiny` with nothing changed, as a user
        runs it (a new process), against the fully cached `docker build` of the same rendered
        Dockerfile and context by the same BuildKit client; the two alternate, run by run.
        Then where builder's time goes: interpreter start, imports (python -X importtime, by
        package) and each step of the build command (timed in this process, imports done).
  no-op / cold      (target <= 5 %)  a rebuild with nothing changed, through `builder build`
  bump / cold       (target <= 40 %) a rebuild after one tool's version and bytes changed
  size overhead     (target <= 2 %)  (image size - base size - payload) / payload
Every line is a ratio or a time: nothing is asserted (another machine's times differ).

Needs a Docker engine with a BuildKit client and the local base image (scripts/test makes both).
Usage: python benchmarks/build.py [--sample EXECUTABLE] [--runs N] [--only noop]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.building.buildkit import BuildRequest, build_argv  # noqa: E402
from builder.building.engine import find_client  # noqa: E402
from builder.building.render import plan_images  # noqa: E402
from builder.building.secrets import private_folder, user_secrets  # noqa: E402
from builder.config.platforms import Platform  # noqa: E402
from builder.config.project import load_project  # noqa: E402
from builder.kinds.release_files import Artifact, Artifacts  # noqa: E402
from builder.locking.evidence import Published  # noqa: E402
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile  # noqa: E402
from builder.stores.base import ArtifactRef  # noqa: E402
from builder.stores.local import LocalStore  # noqa: E402

TESTED = (Published("the benchmark's own files"),)

TOOLS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
TINY = "tiny"  # one tool of a few bytes, for the no-op against a cached `docker build`
AMD64 = Platform("linux", "amd64")
T = TypeVar("T")


def tarball(name: str, version: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        files = {name: f"#!/bin/sh\necho '{name} {version}'\n".encode(), "data.bin": payload}
        for file, data in files.items():
            info = tarfile.TarInfo(file)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def catalogue() -> str:
    lines = ["tools:"]
    for name in (*TOOLS, TINY):
        lines += [
            f"  {name}:",
            "    source: github",
            f"    repository: bench/{name}",
            "    install: archive",
            f"    assets: {{linux/amd64: '{name}_{{version}}.tar.gz'}}",
            f"    check: {{command: [{name}], pattern: '{name} (\\S+)'}}",
        ]
    return "\n".join(lines) + "\n"


class Bench:
    def __init__(self, root: Path, sample: bytes) -> None:
        self.root, self.sample = root, sample
        self.store = LocalStore(root / "cache")
        self.client = find_client(None, os.environ)
        self.registry = f"builder-bench-{secrets.token_hex(3)}"
        self.lock = Lockfile()
        self.nonce = secrets.token_hex(8)  # no bytes of this run are in BuildKit's cache from another

    def setup(self) -> None:
        shutil.copytree(REPO / "templates", self.root / "templates")
        shutil.copytree(REPO / "images/base", self.root / "images/base")
        (self.root / "images/bench").mkdir(parents=True)
        (self.root / "images/bench/image.yaml").write_text(
            f"base: {{image: base}}\ntools: [{', '.join(TOOLS)}]\n"
        )
        (self.root / "images" / TINY).mkdir()
        (self.root / "images" / TINY / "image.yaml").write_text(f"base: {{image: base}}\ntools: [{TINY}]\n")
        (self.root / "tools.yaml").write_text(catalogue())
        (self.root / "builder.yaml").write_text(
            f"registry: {self.registry}\nplatforms: [linux/amd64]\n"
            f"store: {{kind: local, path: '{self.root / 'cache'}'}}\n"
            "base_images: {debian: {ref: 'builder-debian:bookworm'}}\n"
        )
        for name in TOOLS:
            self.add(name, "1.0.0")
        self.add(TINY, "1.0.0", b"")

    def add(self, name: str, version: str, sample: bytes | None = None) -> None:
        # Slices of a real executable compress (and unpack) like real release archives do;
        # the version in the header makes every bump's bytes new.
        if sample is None:
            sample = self.sample[: len(self.sample) * (3 + TOOLS.index(name) % 4) // 6]
        data = tarball(name, version, f"{self.nonce} {version}".encode() + sample)
        file = f"{name}_{version}.tar.gz"
        artifact = Artifact(
            file,
            f"https://bench.invalid/{file}",
            hashlib.sha256(data).hexdigest(),
            len(data),
            evidence=TESTED,
        )
        (self.root / "incoming").mkdir(exist_ok=True)
        (self.root / "incoming" / file).write_bytes(data)
        self.store.put(ArtifactRef(name, version, AMD64, artifact), self.root / "incoming" / file)
        self.lock = self.lock.with_tool(LockedTool(name, version, Artifacts({AMD64: artifact})))
        write_lockfile(self.root, self.lock)

    def builder(self, *args: str, compiled: bool = True) -> float:
        """One `builder` run as a user's is: a new process, its modules' bytecode compiled once
        (as pip leaves an installed package); ``compiled=False``: compiled anew, run after run."""
        env = self.python_env(compiled)
        return self.timed(self.builder_argv(*args), env)[0]

    def builder_argv(self, *args: str, python: tuple[str, ...] = ()) -> list[str]:
        return [sys.executable, *python, "-m", "builder", "--project", str(self.root), *args]

    def python_env(self, compiled: bool = True) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        }
        if not compiled:
            return {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        return {**env, "PYTHONPYCACHEPREFIX": str(self.root / "pycache")}  # not beside the sources

    def timed(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
        """Wall time of one run of ``argv`` (which must succeed) and what it wrote to stderr."""
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
        return seconds, done.stderr

    def tag(self, image: str) -> str:
        project = load_project(self.root)
        return f"{self.registry}/{image}:{plan_images(project, load_lockfile(self.root))[image].tag}-amd64"

    def size(self, image: str) -> int:
        out = subprocess.run([self.client.path, "image", "inspect", "--format", "{{.Size}}", self.tag(image)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        return int(out.stdout)

    def cleanup(self) -> None:
        listed = subprocess.run([self.client.path, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True, check=False)  # fmt: skip
        mine = [i for i in listed.stdout.split() if i.startswith(self.registry)]
        if mine:
            subprocess.run([self.client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)
        # Each --no-cache cold build moved the tag to a new image: the ones left behind have none.
        dangling = ["image", "prune", "-f", "--filter", "label=org.opencontainers.image.title=bench"]
        subprocess.run([self.client.path, *dangling], capture_output=True, check=False)


@dataclass(frozen=True)
class NoopComparison:
    docker: float  # the fully cached `docker build`, median wall seconds
    builder: float  # `builder build tiny` with nothing changed, median wall seconds
    uncompiled: float  # the same with PYTHONDONTWRITEBYTECODE=1: builder's modules compiled each run
    start: float  # `python -c pass`: the interpreter and site, before any of builder
    imports: dict[str, float]  # seconds of import beyond the interpreter's own, by package
    steps: dict[str, float]  # seconds of each step of the build command, in this process


def noop_against_docker(bench: Bench, runs: int) -> NoopComparison:
    """The no-op and the cached `docker build` of the same context, alternating run by run."""
    build = ("build", TINY, "--platform", "linux/amd64")
    bench.builder(*build)  # builds it (and base): from here on nothing changed
    project = load_project(bench.root)
    with private_folder() as folder:
        found = user_secrets(project.settings, os.environ, folder)  # the files builder would mount
        context = bench.root / ".builder" / "contexts" / f"{TINY}-{AMD64.arch}"
        request = BuildRequest(context, bench.tag(TINY), AMD64, found.files)
        docker_argv = build_argv(bench.client, request)
        env = bench.client.build_env(os.environ)
        bench.timed(docker_argv, env)  # the first may still write; the rest find all of it cached
        docker, builder, uncompiled = [], [], []
        for _ in range(3 * runs):
            docker.append(bench.timed(docker_argv, env)[0])
            builder.append(bench.builder(*build))
            uncompiled.append(bench.builder(*build, compiled=False))
    start = median(
        bench.timed([sys.executable, "-c", "pass"], bench.python_env())[0] for _ in range(3 * runs)
    )
    imports = [import_times(bench, build) for _ in range(runs)]
    by_package = {name: median(sample.get(name, 0.0) for sample in imports) for name in imports[0]}
    steps = step_times(bench, runs)
    return NoopComparison(median(docker), median(builder), median(uncompiled), start, by_package, steps)


def import_times(bench: Bench, build: tuple[str, ...]) -> dict[str, float]:
    """Seconds of import (each module's own, summed by top package), less what `python -c pass` imports."""
    env = bench.python_env()
    interpreter = _imported(bench.timed([sys.executable, "-X", "importtime", "-c", "pass"], env)[1])
    found: dict[str, float] = {}
    for name, seconds in _imported(
        bench.timed(bench.builder_argv(*build, python=("-X", "importtime")), env)[1]
    ).items():
        if name not in interpreter:
            top = name.split(".")[0]
            group = top if top == "builder" or top not in sys.stdlib_module_names else "standard library"
            found[group] = found.get(group, 0.0) + seconds
    return found


def _imported(stderr: str) -> dict[str, float]:
    """``-X importtime``'s lines (``import time: self | cumulative | name``): each module's own seconds."""
    found = {}
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(fields) == 3 and fields[0].strip().isdigit():
            found[fields[2].strip()] = int(fields[0]) / 1e6
    return found


class Steps:
    """Seconds of each labelled step, run after run."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def __call__(self, label: str, action: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = action()
        self.samples.setdefault(label, []).append(time.perf_counter() - started)
        return result

    def medians(self) -> dict[str, float]:
        return {label: median(times) for label, times in self.samples.items()}


def step_times(bench: Bench, runs: int) -> dict[str, float]:
    """Each step `builder build` takes on a no-op, in this process (so without imports), median."""
    steps = Steps()
    for _ in range(runs):
        noop_steps(bench, steps)
    return steps.medians()


def noop_steps(bench: Bench, step: Steps) -> None:
    """What builder.cli.commands.build_command does when every tag is on the engine."""
    from builder.building.buildkit import inspect_tags
    from builder.building.fetch import artifact_refs, fetch
    from builder.building.pipeline import image_tag
    from builder.cli.commands import check_rendered
    from builder.cli.status import record_builds
    from builder.config.project import with_environment
    from builder.plumbing.progress import Progress
    from builder.runtime import Runtime

    project = step("load project files", lambda: with_environment(load_project(bench.root), os.environ))
    lock = step("load builder.lock", lambda: load_lockfile(bench.root))
    wiring = Runtime(project, os.environ)
    client = step("find the docker client (remembered)", lambda: wiring.docker)
    store = wiring.store()
    rendering = step(
        "render, compare with buildspecs/", lambda: check_rendered(project, lock, [TINY], False, _quiet)
    )
    plans = rendering.plans
    refs = artifact_refs(project, lock, [TINY], [AMD64])
    step("check the store is warm", lambda: fetch(refs, store, Progress(len(refs), quiet_cached=True)))
    tags = {image_tag(project, plans[n], AMD64) for n in ("base", TINY)}
    step("ask the engine for the tags and sizes", lambda: inspect_tags(client, tags))
    step("record the build", lambda: record_builds(project, plans, [TINY], AMD64))


def _quiet(*args: object, **kwargs: object) -> None:
    """An echo that prints nothing (the warning that buildspecs/ is not committed, here)."""


def show_noop(found: NoopComparison) -> None:
    ratio = found.builder / found.docker
    print(f"cached docker build      {found.docker:6.3f} s   (same client, Dockerfile and context)")
    print(f"no-op builder build      {found.builder:6.3f} s   no-op/docker = {ratio:4.2f}x   (target <= 2x)")
    print(f"  bytecode not cached    {found.uncompiled:6.3f} s   "
          f"= {found.uncompiled / found.docker:4.2f}x   (PYTHONDONTWRITEBYTECODE=1: compiled every run)")  # fmt: skip
    print(f"  interpreter start      {found.start:6.3f} s   (python -c pass)")
    imports = sum(found.imports.values())
    print(f"  imports                {imports:6.3f} s   (python -X importtime, each module's own time)")
    for name, seconds in sorted(found.imports.items(), key=lambda item: -item[1])[:8]:
        print(f"    {name:<20} {seconds:6.3f} s")
    print(f"  steps                  {sum(found.steps.values()):6.3f} s   (in this process, imports done)")
    for label, seconds in found.steps.items():
        print(f"    {label:<32} {seconds * 1000:6.1f} ms")


def payload_bytes(bench: Bench) -> int:
    total = 0
    for name in TOOLS:
        artifact = bench.lock.tools[name].payload.files[AMD64]
        with tarfile.open(bench.store.path_of(artifact.sha256)) as tar:
            total += sum(m.size for m in tar.getmembers())
    return total


def bump(bench: Bench, tool: str, run: int, build: tuple[str, ...]) -> float:
    bench.add(tool, f"1.0.{run + 1}")  # new version, new bytes: this tool's stage and layer are redone
    return bench.builder(*build)


def median(samples: Iterable[float]) -> float:
    return statistics.median(list(samples))


@dataclass(frozen=True)
class BigImage:
    cold: float
    noop: float
    noop_buildkit: float
    bump_last: float
    bump_middle: float
    payload: int
    overhead: int


def big_image(bench: Bench, runs: int) -> BigImage:
    build = ("build", "bench", "--platform", "linux/amd64")
    cold = median(bench.builder(*build, "--no-cache") for _ in range(runs))
    # A no-op costs a few hundred ms, so the disk still writing back the cold builds' layers
    # shows in it: more samples, same median.
    noop = median(bench.builder(*build) for _ in range(3 * runs))
    noop_buildkit = median(bench.builder(*build, "--rebuild") for _ in range(runs))
    bump_last = median(bump(bench, TOOLS[-1], run, build) for run in range(runs))
    bump_middle = median(bump(bench, TOOLS[2], run, build) for run in range(runs))
    payload = payload_bytes(bench)
    overhead = bench.size("bench") - bench.size("base") - payload
    return BigImage(cold, noop, noop_buildkit, bump_last, bump_middle, payload, overhead)


def show_big(found: BigImage, sample: str) -> None:
    cold = found.cold
    print(
        f"image: {len(TOOLS)} binary tools (tar.gz of slices of {sample}), payload {found.payload / 2**20:.0f} MiB"
    )
    print(f"cold build               {cold:6.2f} s")
    print(
        f"no-op rebuild            {found.noop:6.2f} s   no-op/cold = {found.noop / cold:6.1%}   (target <= 5%)"
    )
    print(
        f"  same through BuildKit  {found.noop_buildkit:6.2f} s   "
        f"(--rebuild: every step from cache) = {found.noop_buildkit / cold:6.1%}"
    )
    print(
        f"one-tool bump            {found.bump_last:6.2f} s   "
        f"bump/cold  = {found.bump_last / cold:6.1%}   (target <= 40%)"
    )
    print(
        f"  bump of the 3rd of 6   {found.bump_middle:6.2f} s   "
        f"= {found.bump_middle / cold:6.1%} (later COPY layers are redone)"
    )
    print(f"size overhead            {found.overhead / 2**10:6.1f} KiB over payload "
          f"= {found.overhead / found.payload:6.2%}   (target <= 2%)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sample", default=shutil.which("terraform"), help="executable whose bytes make the payloads"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; the median is shown")
    parser.add_argument("--only", choices=["noop"], help="noop: only the no-op against a cached docker build")
    args = parser.parse_args()
    if not args.sample:
        sys.exit("no sample executable: pass --sample PATH")
    with tempfile.TemporaryDirectory(prefix="builder-bench-") as tmp:
        bench = Bench(Path(tmp), Path(args.sample).read_bytes())
        try:
            bench.setup()
            bench.builder("build", "base", "--platform", "linux/amd64")
            # First, while the disk is quiet: the big image's cold builds leave layers being written back.
            noop = noop_against_docker(bench, args.runs)
            big = big_image(bench, args.runs) if args.only is None else None
        finally:
            bench.cleanup()
    print(f"image: {TINY} (one tool of a few bytes on base), median of {3 * args.runs} alternating runs")
    show_noop(noop)
    if big is not None:
        print()
        show_big(big, args.sample)


if __name__ == "__main__":
    main()
