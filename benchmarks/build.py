"""Build benchmark: cold build, no-op rebuild and one-tool bump of an image with six binary tools.

Prints, measured side by side in one run on this machine (each the median of --runs runs):
  no-op / cold      (target <= 5 %)  a rebuild with nothing changed, through `builder build`
  bump / cold       (target <= 40 %) a rebuild after one tool's version and bytes changed
  size overhead     (target <= 2 %)  (image size - base size - payload) / payload

Needs a Docker engine with a BuildKit client and the local base image (scripts/test makes both).
Usage: python benchmarks/build.py [--sample EXECUTABLE] [--runs N]
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
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.building.engine import find_client  # noqa: E402
from builder.building.render import plan_images  # noqa: E402
from builder.config.platforms import Platform  # noqa: E402
from builder.config.project import load_project  # noqa: E402
from builder.kinds.release_files import Artifact, Artifacts  # noqa: E402
from builder.locking.evidence import Published  # noqa: E402
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile  # noqa: E402
from builder.stores.base import ArtifactRef  # noqa: E402
from builder.stores.local import LocalStore  # noqa: E402

TESTED = (Published("the benchmark's own files"),)

TOOLS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
AMD64 = Platform("linux", "amd64")


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
    for name in TOOLS:
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
        (self.root / "tools.yaml").write_text(catalogue())
        (self.root / "builder.yaml").write_text(
            f"registry: {self.registry}\nplatforms: [linux/amd64]\n"
            f"store: {{kind: local, path: '{self.root / 'cache'}'}}\n"
            "base_images: {debian: {ref: 'builder-debian:bookworm'}}\n"
        )
        for name in TOOLS:
            self.add(name, "1.0.0")

    def add(self, name: str, version: str) -> None:
        # Slices of a real executable compress (and unpack) like real release archives do;
        # the version in the header makes every bump's bytes new.
        size = len(self.sample) * (3 + TOOLS.index(name) % 4) // 6
        data = tarball(name, version, f"{self.nonce} {version}".encode() + self.sample[:size])
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

    def builder(self, *args: str) -> float:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "builder", "--project", str(self.root), *args],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"builder {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - started

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sample", default=shutil.which("terraform"), help="executable whose bytes make the payloads"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; the median is shown")
    args = parser.parse_args()
    if not args.sample:
        sys.exit("no sample executable: pass --sample PATH")
    build = ("build", "bench", "--platform", "linux/amd64")
    with tempfile.TemporaryDirectory(prefix="builder-bench-") as tmp:
        bench = Bench(Path(tmp), Path(args.sample).read_bytes())
        try:
            bench.setup()
            bench.builder("build", "base", "--platform", "linux/amd64")
            cold = median(bench.builder(*build, "--no-cache") for _ in range(args.runs))
            # A no-op costs a few hundred ms, so the disk still writing back the cold builds' layers
            # shows in it: more samples, same median.
            noop = median(bench.builder(*build) for _ in range(3 * args.runs))
            noop_buildkit = median(bench.builder(*build, "--rebuild") for _ in range(args.runs))
            bump_last = median(bump(bench, TOOLS[-1], run, build) for run in range(args.runs))
            bump_middle = median(bump(bench, TOOLS[2], run, build) for run in range(args.runs))
            payload = payload_bytes(bench)
            overhead = bench.size("bench") - bench.size("base") - payload
        finally:
            bench.cleanup()
    print(
        f"image: {len(TOOLS)} binary tools (tar.gz of slices of {args.sample}), payload {payload / 2**20:.0f} MiB"
    )
    print(f"cold build               {cold:6.2f} s")
    print(f"no-op rebuild            {noop:6.2f} s   no-op/cold = {noop / cold:6.1%}   (target <= 5%)")
    print(
        f"  same through BuildKit  {noop_buildkit:6.2f} s   (--rebuild: every step from cache) = {noop_buildkit / cold:6.1%}"
    )
    print(
        f"one-tool bump            {bump_last:6.2f} s   bump/cold  = {bump_last / cold:6.1%}   (target <= 40%)"
    )
    print(
        f"  bump of the 3rd of 6   {bump_middle:6.2f} s   = {bump_middle / cold:6.1%} (later COPY layers are redone)"
    )
    print(
        f"size overhead            {overhead / 2**10:6.1f} KiB over payload = {overhead / payload:6.2%}   (target <= 2%)"
    )


if __name__ == "__main__":
    main()
