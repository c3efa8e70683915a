"""What long work prints: fetch's bar on a terminal and plain lines elsewhere; lock's line per tool as it resolves."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.fetch import fetch
from builder.config.platforms import Platform
from builder.kinds.release_files import Artifact
from builder.plumbing.progress import Progress
from builder.stores.base import ArtifactRef
from builder.stores.local import LocalStore
from tests.fakes.evidence import TESTED
from tests.fakes.files import Files, serve
from tests.fakes.github import Failure, FakeGitHub
from tests.fakes.github import serve as serve_github
from tests.helpers import run_cli
from tests.test_lock_cli import TOOLS, publish

AMD64 = Platform("linux", "amd64")
BIG = os.urandom(6 * 2**20)  # over the few MiB from which a download gets a bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def served() -> Iterator[ArtifactRef]:
    with serve(Files()) as files:
        url = files.add("/big/tool_1.0.0_linux_amd64.tar.gz", BIG)
        artifact = Artifact(
            "tool_1.0.0_linux_amd64.tar.gz", url, hashlib.sha256(BIG).hexdigest(), len(BIG), evidence=TESTED
        )
        yield ArtifactRef("tool", "1.0.0", AMD64, artifact)


def test_a_big_download_draws_a_bar_with_bytes_and_rate_on_a_terminal(
    served: ArtifactRef, tmp_path: Path
) -> None:
    stream = Terminal()
    report = fetch([served], LocalStore(tmp_path / "store"), Progress(1, stream))
    assert not report.failed
    drawn = stream.getvalue()
    bars = re.findall(
        r"\r\x1b\[K\[([#.]{24})\] [\d.]+ (?:B|KiB|MiB) / 6\.0 MiB  [\d.]+ (?:B|KiB|MiB|GiB)/s", drawn
    )
    assert bars, drawn
    assert bars == sorted(bars, key=lambda bar: bar.count("#"))  # it only fills
    assert re.search(
        r"\[1/1\] downloaded  tool 1\.0\.0 \(linux/amd64\) .*\(6\.0 MiB, \d+\.\d \w+/s\)\n", drawn
    )


def test_without_a_terminal_only_plain_lines_are_written(served: ArtifactRef, tmp_path: Path) -> None:
    stream = io.StringIO()  # a CodeBuild log
    fetch([served], LocalStore(tmp_path / "store"), Progress(1, stream))
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert re.fullmatch(
        r"\[1/1\] downloaded  tool 1\.0\.0 \(linux/amd64\) .*\(6\.0 MiB, \d+\.\d \w+/s\)\n", text
    )


def test_lock_prints_each_tools_line_as_it_resolves_not_in_name_order(tmp_path: Path) -> None:
    with serve_github(FakeGitHub()) as github:
        for version in ("1.0.0", "1.1.0"):
            publish(github, "acme/scan", version, ["scan_{version}_amd64.tar.gz", "scan_{version}_arm64.tar.gz"],
                    "scan_{version}_checksums.txt")  # fmt: skip
        publish(github, "acme/lint", "0.3.0", ["lint-amd64", "lint-arm64"], "checksums.txt")
        github.fail("/repos/acme/lint/releases", Failure.slow(1.5))  # lint sorts first, answers last
        root = tmp_path / "project"
        (root / "images/tools").mkdir(parents=True)
        (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scan, lint]\n")
        (root / "tools.yaml").write_text(TOOLS)
        (root / "builder.yaml").write_text(
            f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{github.url}', github_downloads: '{github.download_url}'}}\n"
        )
        result = run_cli(root, "lock")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("locked ")]
    assert lines == ["locked     scan 1.1.0", "locked     lint 0.3.0"]
    changes = [line.split(":")[0] for line in result.output.splitlines() if " -> " in line and ":" in line]
    assert changes == ["lint", "scan"]  # the summary stays in name order
