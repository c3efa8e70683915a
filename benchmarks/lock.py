"""Lock benchmark: `builder lock --upgrade` of 12 tools against fake upstreams that add 200 ms per request.

Prints, measured side by side in one run:
  slowest single tool   the longest request chain of one tool locked alone
  sequential / concurrent wall time of locking all 12 with one worker, and with twelve
  concurrent / slowest  (target <= 1.3x, signature checks on; 16 requests at once, 1.4-1.6x with 8)
  second run            artifact bytes downloaded when nothing is new (target 0), requests answered 304

Fakes: a GitHub API with release downloads (10 tools), HashiCorp releases (signed SHA256SUMS) and
nodejs.org/dist (signed SHASUMS256.txt), all on 127.0.0.1, signing with a throwaway gpg key.
Signature checks are on: tools 01-04 require a Sigstore bundle per asset and 05-07 a GitHub
attestation of checksums.txt, made by a fake Sigstore whose trusted root is in the keys folder.
Usage: python benchmarks/lock.py [--delay SECONDS]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.config.project import Project, load_project  # noqa: E402
from builder.config.settings import Settings  # noqa: E402
from builder.locking.lockfile import Lockfile  # noqa: E402
from builder.locking.resolver import LockOutcome, lock_tools  # noqa: E402
from builder.plumbing.http import HttpClient, make_session  # noqa: E402
from builder.sources.base import Source, SourceDeps  # noqa: E402
from builder.sources.github import GitHubSource  # noqa: E402
from builder.sources.hashicorp import HashiCorpSource  # noqa: E402
from builder.sources.nodejs import NodeSource  # noqa: E402
from tests.fakes.github import Answer, FakeGitHub, checksum_file  # noqa: E402
from tests.fakes.github import serve as serve_github  # noqa: E402
from tests.fakes.hashicorp import HashiCorpReleases  # noqa: E402
from tests.fakes.nodejs import NodeDist  # noqa: E402
from tests.fakes.pgp import KeySet, make_key, switchboard  # noqa: E402
from tests.fakes.sigstore import SLSA, FakeSigstore, attestations_answer  # noqa: E402

GITHUB_TOOLS = [f"tool{i:02d}" for i in range(1, 11)]
NOW = datetime(2026, 11, 27, tzinfo=UTC)
DELAY = [0.2]
BUNDLED, ATTESTED = GITHUB_TOOLS[:4], GITHUB_TOOLS[4:7]
SIGSTORE = FakeSigstore()


def _workflow(name: str) -> str:
    return f"https://github.com/acme/{name}/.github/workflows/release.yml@refs/tags/v{{version}}"


class SlowGitHub(FakeGitHub):
    def answer(self, target: str, headers: Mapping[str, str]) -> tuple[Answer, float]:
        answer, delay = super().answer(target, headers)
        return answer, delay + DELAY[0]


class SlowHashiCorp(HashiCorpReleases):
    def answer(self, path: str, if_none_match: str | None) -> tuple[int, bytes, str | None]:
        time.sleep(DELAY[0])
        return super().answer(path, if_none_match)


class SlowNode(NodeDist):
    def answer(self, path: str, if_none_match: str | None) -> tuple[int, bytes, str | None]:
        time.sleep(DELAY[0])
        return super().answer(path, if_none_match)


def catalogue() -> str:
    lines = ["tools:"]
    for name in GITHUB_TOOLS:
        lines += [f"  {name}:", "    source: github", f"    repository: acme/{name}",
                  "    checksums: checksums.txt", "    install: binary",
                  f"    assets: {{linux/amd64: {name}-amd64, linux/arm64: {name}-arm64}}",
                  f"    check: {{command: [{name}], pattern: '(\\S+)'}}"]  # fmt: skip
        if name in BUNDLED:
            lines += ["    provenance:", "      kind: sigstore-bundle", "      bundle: '{asset}.sigstore.json'",
                      f"      identity: {_workflow(name)}"]  # fmt: skip
        if name in ATTESTED:
            lines += ["    provenance:", "      kind: github-attestation", "      signed: checksums.txt",
                      f"      identity: {_workflow(name)}"]  # fmt: skip
    lines += ["  terraform:", "    source: hashicorp", "    product: terraform", "    install: archive",
              "    assets: {linux/amd64: 'terraform_{version}_linux_amd64.zip', linux/arm64: 'terraform_{version}_linux_arm64.zip'}",
              "    check: {command: [terraform, version], pattern: 'v(\\S+)'}",
              "  node:", "    source: nodejs", "    install: archive", "    strip_components: 1",
              "    assets: {linux/amd64: 'node-v{version}-linux-x64.tar.gz', linux/arm64: 'node-v{version}-linux-arm64.tar.gz'}",
              "    check: {command: [node, --version], pattern: 'v(\\S+)'}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def publish_github(fake: FakeGitHub) -> None:
    for name in GITHUB_TOOLS:
        for version in ("1.0.0", "1.1.0"):
            files = {
                f"{name}-{arch}": f"{name} {version} {arch} ".encode() * 20000 for arch in ("amd64", "arm64")
            }
            identity = _workflow(name).replace("{version}", version)
            sums = checksum_file(files)
            bundles = {}
            if name in BUNDLED:
                signed = {n: SIGSTORE.sign_blob(d, identity) for n, d in files.items()}
                bundles = {f"{n}.sigstore.json": SIGSTORE.bundle_json(s) for n, s in signed.items()}
            if name in ATTESTED:
                digest = hashlib.sha256(sums).hexdigest()
                statement = SIGSTORE.sign_statement([("checksums.txt", digest)], SLSA, identity)
                fake.attestations[f"acme/{name} sha256:{digest}"] = attestations_answer(SIGSTORE, [statement])
            fake.release(f"acme/{name}", f"v{version}", {**files, **bundles, "checksums.txt": sums})


class Bench:
    def __init__(self, root: Path, urls: dict[str, str], keys: KeySet) -> None:
        self.root, self.urls, self.keys = root, urls, keys
        (root / "images").mkdir(parents=True)
        (root / "tools.yaml").write_text(catalogue())
        (root / "builder.yaml").write_text("platforms: [linux/amd64, linux/arm64]\n")
        self.project: Project = load_project(root)
        self.runs = 0

    def sources(self, cache: Path) -> tuple[dict[str, Source], HttpClient]:
        self.runs += 1
        http = HttpClient(make_session(), cache_dir=cache)
        work = self.root / f"work{self.runs}"
        ctx = SourceDeps(http, Settings(), self.urls, self.keys.keys_dir, work)
        fingerprints = [self.keys.release.fingerprint]
        made: dict[str, Source] = {"github": GitHubSource(ctx), "hashicorp": HashiCorpSource(ctx, fingerprints),
                                   "nodejs": NodeSource(ctx, fingerprints)}  # fmt: skip
        return made, http

    def run(
        self, lock: Lockfile, tools: tuple[str, ...], jobs: int, cache: Path
    ) -> tuple[float, LockOutcome, HttpClient]:
        sources, http = self.sources(cache)
        started = time.perf_counter()
        outcome = lock_tools(self.project, lock, tools, sources, NOW, upgrade=True, jobs=jobs)
        elapsed = time.perf_counter() - started
        if outcome.failures:
            sys.exit(f"lock failed: {outcome.failures}")
        return elapsed, outcome, http


def keyset(home: Path) -> KeySet:
    home.mkdir(mode=0o700)
    release, stranger = make_key(home, "release@example.test"), make_key(home, "stranger@example.test")
    keys_dir = home.parent / "keys"
    (keys_dir / "nodejs").mkdir(parents=True)
    (keys_dir / "hashicorp.asc").write_bytes(release.armored())
    (keys_dir / "nodejs" / f"{release.fingerprint}.asc").write_bytes(release.armored())
    (keys_dir / "sigstore").mkdir()
    (keys_dir / "sigstore" / "trusted_root.json").write_text(SIGSTORE.trusted_root_json())
    return KeySet(release, stranger, keys_dir)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--delay", type=float, default=0.2, help="seconds added to every answer (default 0.2)"
    )
    DELAY[0] = parser.parse_args().delay
    with tempfile.TemporaryDirectory(prefix="builder-lock-bench-") as tmp:
        root = Path(tmp)
        keys = keyset(root / "gnupg")
        with serve_github(SlowGitHub()) as github, switchboard() as hc_board, switchboard() as node_board:
            publish_github(github)
            hashicorp = hc_board.plug(SlowHashiCorp(keys, current="1.15.8", current_date=1_700_000_000))
            for version in ("1.15.7", "1.15.8"):
                hashicorp.publish(version)
            node = node_board.plug(SlowNode(keys))
            for version, date in (("24.14.0", "2026-09-01"), ("24.15.0", "2026-10-01")):
                node.publish(version, date, lts="Krypton")
            urls = {"github_api": github.url, "hashicorp_releases": hashicorp.url,
                    "hashicorp_checkpoint": hashicorp.url, "nodejs": node.url}  # fmt: skip
            report(Bench(root / "project", urls, keys), root)


def report(bench: Bench, root: Path) -> None:
    tools = tuple(sorted(bench.project.tools))
    chains = {t: bench.run(Lockfile(), (t,), 1, root / f"etag-{t}")[0] for t in tools}
    slowest = max(chains, key=lambda t: chains[t])
    sequential = bench.run(Lockfile(), tools, 1, root / "etag-seq")[0]
    concurrent, outcome, _ = bench.run(Lockfile(), tools, len(tools), root / "etag-conc")
    second, again, http = bench.run(outcome.lock, tools, len(tools), root / "etag-conc")
    print(f"12 tools (10 GitHub, 1 HashiCorp, 1 Node.js), {DELAY[0] * 1000:.0f} ms added to every answer")
    print(f"slowest single tool  {chains[slowest]:6.2f} s   ({slowest})")
    print(f"sequential (1 job)   {sequential:6.2f} s")
    print(
        f"concurrent (12 jobs) {concurrent:6.2f} s   concurrent/slowest = {concurrent / chains[slowest]:.2f}x   (target <= 1.3x)"
    )
    print(f"second run           {second:6.2f} s   artifact bytes downloaded: {http.bytes_downloaded}   (target 0); "
          f"{len(again.changes)} changes, {http.requests} requests")  # fmt: skip


if __name__ == "__main__":
    main()
