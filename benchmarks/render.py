"""Render benchmark: CPU time of loading the shipped project and rendering every image, against a budget.

Prints, measured in one run (CPU time of this process, so another process's load matters little):
  load        reading and validating builder.yaml, tools.yaml, images/ and builder.lock
  render      rendering every Dockerfile, buildspec and side file (requirements, npm locks)
  total / budget   (target: well under 1 s of CPU, PRODUCT.md)
  one image / every image   (rendering one image still plans its parents' tags)
Each figure is the median of --runs runs in a fresh Project (no cache between runs).
Usage: python benchmarks/render.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.building.render import render_project  # noqa: E402
from builder.config.project import load_project  # noqa: E402
from builder.locking.lockfile import load_lockfile  # noqa: E402

BUDGET = 1.0  # seconds of CPU
T = TypeVar("T")


def cpu(action: Callable[[], T]) -> tuple[float, T]:
    started = time.process_time()
    result = action()
    return time.process_time() - started, result


def one_run() -> tuple[float, float, dict[str, float]]:
    load, (project, lock) = cpu(lambda: (load_project(REPO), load_lockfile(REPO)))
    render, files = cpu(lambda: render_project(project, lock))
    assert files, "nothing rendered"
    per_image = {name: cpu(lambda n=name: render_project(project, lock, (n,)))[0] for name in project.images}
    return load, render, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = [one_run() for _ in range(parser.parse_args().runs)]
    load = statistics.median(r[0] for r in runs)
    render = statistics.median(r[1] for r in runs)
    images = runs[0][2].keys()
    per_image = {name: statistics.median(r[2][name] for r in runs) for name in images}
    total = load + render
    print(f"{len(per_image)} images, median of {len(runs)} runs, CPU time")
    print(f"load      {load * 1000:7.1f} ms")
    print(f"render    {render * 1000:7.1f} ms")
    print(
        f"total     {total * 1000:7.1f} ms   total/budget = {total / BUDGET:.1%}   (target: well under 100%)"
    )
    slowest = max(per_image, key=lambda n: per_image[n])
    print(
        f"one image ({slowest}) {per_image[slowest] * 1000:.1f} ms = {per_image[slowest] / render:.0%} of every image"
    )


if __name__ == "__main__":
    main()
