"""Fuzz every YAML file builder reads: random and mutated documents, only builder's own errors allowed.

Each case rewrites one of builder.yaml, tools.yaml, an image.yaml or builder.lock in a scratch copy
of the shipped project (mutations of the real file: flipped bytes, lines dropped, repeated or
swapped, hostile snippets spliced in: aliases, tags, deep nesting, huge scalars, control and
bidi characters, hostile names; or a random document), then loads the project, the lockfile and
renders every image in this process. Any exception other than a BuilderError is a bug: the input
is saved under --out and the run fails. A case that takes over --case-seconds of CPU is a hang, and one
that takes the process past --max-mib of peak memory fails the run too.

Prints: cases run per file, how many were refused (a BuilderError, as they should be) or accepted,
the slowest case, and the peak memory (max RSS) of the process against its bound.
Usage: python benchmarks/fuzz_config.py [--seconds 600] [--seed N] [--max-mib 1024] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.building.render import render_project  # noqa: E402
from builder.config.project import load_project  # noqa: E402
from builder.errors import BuilderError  # noqa: E402
from builder.locking.lockfile import load_lockfile  # noqa: E402

FILES = ("builder.yaml", "tools.yaml", "images/container-scanners/image.yaml", "images/base/image.yaml",
         "builder.lock")  # fmt: skip
SNIPPETS = [
    "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b]\n",
    "x: !!python/object/apply:os.system [id]\n",
    "x: !!binary aGVsbG8=\n",
    "x: !custom {a: 1}\n",
    "<<: {a: 1}\n",
    "x: " + "[" * 200 + "]" * 200 + "\n",
    "x: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    "x: " + "9" * 6000 + "\n",
    "x: 1e999999\n",
    "x: .nan\n",
    "x: 2024-13-45\n",
    "? [a, b]\n: c\n",
    'x: "\\u202e\\u2028\\x00\\x1b[31m"\n',
    "x: '" + "A" * 200_000 + "'\n",
    "'../../../etc': {source: github}\n",
    '"$(touch /tmp/pwned)": 1\n',
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n",
    "%YAML 1.1\n---\nx: 1\n",
    "--- a\n--- b\n",
    "\t\tx: 1\n",
    "x: |\n  line\n  RUN id\n",
]
WORDS = ["../", "$(id)", "`id`", ";", "|", "\n", "\x00", "{version}", "{version.__class__}", "~", "*", "&x",
         "!!str", "'", '"', "\\", "-1", "0", "true", "null", "1.10", "linux/amd64", "sha256", "é", "\u2028"]  # fmt: skip


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randrange(len(lines))
        if op == 0 and lines[i]:
            chars = list(lines[i])
            chars[rng.randrange(len(chars))] = chr(rng.randrange(0, 0x3000))
            lines[i] = "".join(chars)
        elif op == 1:
            del lines[i]
            lines = lines or [""]
        elif op == 2:
            lines[i:i] = [lines[rng.randrange(len(lines))]] * rng.randint(1, 3)
        elif op == 3:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 4:
            indent = " " * (len(lines[i]) - len(lines[i].lstrip(" ")))
            lines[i:i] = [indent + line + "\n" for line in rng.choice(SNIPPETS).splitlines()]
        elif op == 5 and ":" in lines[i]:
            key, _, value = lines[i].partition(":")
            lines[i] = f"{key}: {rng.choice(WORDS)}{value.strip()}{rng.choice(WORDS)}\n"
        else:
            lines[i] = lines[i].replace(" ", rng.choice(["", "  ", "\t", " - "]), 1)
    return "".join(lines)


def random_document(rng: random.Random, depth: int = 0) -> str:
    if depth > 3 or rng.random() < 0.3:
        return rng.choice([*WORDS, "x", "1", "[]", "{}", '""'])
    if rng.random() < 0.5:
        items = [f"{rng.choice([*WORDS, 'tools', 'store', 'base'])}: {random_document(rng, depth + 1)}"
                 for _ in range(rng.randint(0, 4))]  # fmt: skip
        return "{" + ", ".join(items) + "}"
    return "[" + ", ".join(random_document(rng, depth + 1) for _ in range(rng.randint(0, 4))) + "]"


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """CPU seconds of this process, not wall time: a loaded machine must not look like a hang."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"over {seconds} s of CPU")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def run_case(root: Path) -> str:
    """'refused' (a BuilderError), 'accepted'; anything else raises."""
    try:
        project = load_project(root)
        render_project(project, load_lockfile(root))
    except BuilderError as e:
        message = str(e)
        if "\n" in message:
            raise AssertionError(f"a multi-line error: {message!r}") from None
        return "refused"
    return "accepted"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fuzz(args: argparse.Namespace, work: Path, report: Callable[[str], None]) -> int:
    rng = random.Random(args.seed)
    originals = {name: (work / name).read_text() for name in FILES}
    counts: Counter[tuple[str, str]] = Counter()
    bugs, slowest = 0, (0.0, "")
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and bugs < 10:
        name = rng.choice(FILES)
        text = mutate(originals[name], rng) if rng.random() < 0.85 else random_document(rng)
        (work / name).write_text(text, errors="surrogatepass")
        started = time.monotonic()
        try:
            with time_limit(args.case_seconds):
                counts[(name, run_case(work))] += 1
        except Exception as e:  # a bug: keep the input
            bugs += 1
            saved = args.out / f"case-{bugs}-{Path(name).name}"
            saved.write_text(text, errors="surrogatepass")
            report(f"BUG {type(e).__name__}: {str(e)[:200]} (input saved to {saved})")
            report("".join(traceback.format_exception(e)[-3:]))
        elapsed = time.monotonic() - started
        slowest = max(slowest, (elapsed, name))
        (work / name).write_text(originals[name])
    for name in FILES:
        refused, accepted = counts[(name, "refused")], counts[(name, "accepted")]
        report(f"{name:42} {refused + accepted:6} cases  {refused:6} refused  {accepted:6} accepted")
    total = sum(counts.values())
    report(
        f"{total} cases in {args.seconds} s, {bugs} bug(s); slowest case {slowest[0] * 1000:.0f} ms ({slowest[1]})"
    )
    peak = peak_mib()
    report(
        f"peak memory (max RSS) {peak:.0f} MiB, bound {args.max_mib} MiB: {'ok' if peak <= args.max_mib else 'OVER'}"
    )
    return 1 if bugs or peak > args.max_mib or total == 0 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-mib", type=int, default=1024)
    parser.add_argument("--case-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "builder-fuzz")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # A hard cap well over the bound: an expansion that escapes the checks ends as a MemoryError
    # (reported as a bug) rather than taking the machine down.
    cap = (args.max_mib * 4) << 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    print(f"seed {args.seed}; {args.seconds} s; inputs of failing cases go to {args.out}", flush=True)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        work = Path(tmp) / "project"
        work.mkdir()
        for name in ("builder.yaml", "tools.yaml", "builder.lock", "images", "templates"):
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, work / name)
        return fuzz(args, work, lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
