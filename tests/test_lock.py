"""`builder lock`: which tools are asked, which version is taken, and what is written when."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.config.catalogue import Tool
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.errors import ProgramMissing, UpstreamError
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile
from builder.locking.resolver import lock_tools, stale
from builder.sources.base import Release
from builder.updating.updater import pr_body, run_update
from tests.fakes.evidence import TESTED
from tests.helpers import edit, run_cli

NOW = datetime(2026, 11, 27, tzinfo=UTC)


class FakeSource:
    """Offers releases from a table and 'locks' them with digests derived from the version."""

    def __init__(
        self, releases: dict[str, list[Release]], failing: dict[str, str] | None = None, missing: str = ""
    ) -> None:
        self.table, self.failing, self.missing = releases, failing or {}, missing
        self.asked: list[str] = []
        self.locked: list[tuple[str, str]] = []

    def releases(self, tool: Tool) -> list[Release]:
        self.asked.append(tool.name)
        if tool.name in self.failing:
            raise UpstreamError(self.failing[tool.name])
        return self.table.get(tool.name, [])

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        if tool.name == self.missing:
            raise ProgramMissing("npm is not installed here")
        self.locked.append((tool.name, release.version))
        artifacts = {}
        for p in platforms:
            name = (
                tool.asset_name(p, release.version) if p in tool.install.assets else f"{tool.name}-{p.arch}"
            )
            digest = hashlib.sha256(f"{tool.name}{release.version}{p}".encode()).hexdigest()
            artifacts[p] = Artifact(name, f"https://example.test/{name}", digest, 1, evidence=TESTED)
        return LockedTool(tool.name, release.version, Artifacts(artifacts))


def days_ago(n: int) -> datetime:
    return NOW - timedelta(days=n)


def binary_project(repo_project: Path) -> Path:
    """The shipped project with only its binary tools (the fake locks artifacts, not wheels)."""
    for image in ("code-scanners", "iac-scanners", "security-tools"):
        edit(repo_project / f"images/{image}/image.yaml", "base:", "platforms: [linux/amd64]\nbase:")
    (repo_project / "images/security-tools/image.yaml").write_text(
        "base: {image: base}\ntools: [trivy, grype, tflint]\n"
    )
    (repo_project / "images/iac-scanners/image.yaml").write_text(
        "base: {image: base}\ntools: [terraform, tflint]\n"
    )
    (repo_project / "images/code-scanners/image.yaml").write_text("base: {image: base}\ntools: [node]\n")
    return repo_project


def test_check_is_clean_for_the_committed_lockfile(repo_project: Path) -> None:
    result = run_cli(repo_project, "lock", "--check")
    assert result.exit_code == 0, result.output
    assert "builder.lock is current for 10 tools" in result.output


@pytest.mark.parametrize(
    ("edit_args", "expected"),
    [
        (("tools.yaml", 'version: ">=0.72,<1"', 'version: ">=0.75,<1"'), "stale: trivy: 0.74.0 is outside '>=0.75,<1'"),
        (("tools.yaml", "linux/arm64: grype_{version}_linux_arm64.tar.gz", "linux/arm64: grype_{version}_arm64.tgz"),
         "stale: grype: locked file 'grype_0.117.0_linux_arm64.tar.gz' is not the catalogue's 'grype_0.117.0_arm64.tgz'"),
        (("tools.yaml", "tools:\n", "tools:\n  shellcheck:\n    source: github\n    repository: koalaman/shellcheck\n"
          "    install: binary\n    assets: {linux/amd64: sc}\n    check: {command: [sc, -V], pattern: '(\\S+)'}\n"),
         "stale: shellcheck: not locked"),
    ],
)  # fmt: skip
def test_check_names_each_stale_entry(
    repo_project: Path, edit_args: tuple[str, str, str], expected: str
) -> None:
    file, old, new = edit_args
    edit(repo_project / file, old, new)
    before = (repo_project / "builder.lock").read_bytes()
    result = run_cli(repo_project, "lock", "--check")
    assert result.exit_code == 1
    assert expected in result.output
    assert "run `builder lock`" in result.output
    assert (repo_project / "builder.lock").read_bytes() == before


def test_check_notices_a_tool_dropped_from_the_catalogue(repo_project: Path) -> None:
    tools = (repo_project / "tools.yaml").read_text()
    start, end = tools.index("  tflint:\n"), tools.index("  terraform:\n")
    (repo_project / "tools.yaml").write_text(tools[:start] + tools[end:])
    edit(repo_project / "images/security-tools/image.yaml", "tflint, ", "")
    edit(repo_project / "images/iac-scanners/image.yaml", "terraform, tflint]", "terraform]")
    assert stale(load_project(repo_project), load_lockfile(repo_project)) == {"tflint": "not in tools.yaml"}


def test_missing_entries_are_filled_without_asking_for_the_others(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    lock = load_lockfile(repo_project)
    without = Lockfile({n: t for n, t in lock.tools.items() if n != "grype"})
    source = FakeSource({"grype": [Release("0.117.0", days_ago(30)), Release("0.118.0", days_ago(10))]})
    outcome = lock_tools(project, without, (), {"github": source, "hashicorp": source, "nodejs": source}, NOW)
    assert source.asked == ["grype"]
    assert source.locked == [("grype", "0.118.0")]
    assert [(c.tool, c.old, c.new) for c in outcome.changes] == [("grype", None, "0.118.0")]


def test_upgrade_takes_the_newest_allowed_release(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    releases = [
        Release("0.74.0", days_ago(60)),
        Release("0.75.0", days_ago(20)),
        Release("0.76.0-rc.1", days_ago(10), prerelease=True),
        Release("0.76.0", days_ago(1)),  # inside trivy's 3-day cooldown
        Release("1.0.0", days_ago(30)),  # outside '>=0.72,<1'
        Release("0.75.1", days_ago(15), yanked=True),
    ]
    source = FakeSource({"trivy": releases})
    outcome = lock_tools(
        project, load_lockfile(repo_project), ("trivy",), {"github": source}, NOW, upgrade=True
    )
    assert [(c.tool, c.old, c.new) for c in outcome.changes] == [("trivy", "0.74.0", "0.75.0")]


def test_a_tool_that_allows_prereleases_is_locked_to_one(repo_project: Path) -> None:
    edit(
        repo_project / "tools.yaml",
        "repository: aquasecurity/trivy",
        "repository: aquasecurity/trivy\n    prereleases: true",
    )
    project = load_project(binary_project(repo_project))
    releases = [Release("0.75.0", days_ago(20)), Release("0.76.0-rc.1", days_ago(10), prerelease=True)]
    source = FakeSource(
        {"trivy": releases, "grype": [Release("0.118.0-rc.1", days_ago(10), prerelease=True)]}
    )
    lock = load_lockfile(repo_project)
    outcome = lock_tools(project, lock, ("trivy", "grype"), {"github": source}, NOW, upgrade=True)
    # trivy says `prereleases: true`; grype does not, and keeps its release.
    assert [(c.tool, c.old, c.new) for c in outcome.changes] == [("trivy", "0.74.0", "0.76.0-rc.1")]
    assert "grype" in outcome.failures and "0.118.0-rc.1 (prerelease)" in outcome.failures["grype"]


def test_a_release_that_cannot_be_locked_here_is_deferred_not_failed(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    lock = load_lockfile(repo_project)
    releases = {"trivy": [Release("0.75.0", days_ago(20))], "grype": [Release("0.118.0", days_ago(20))]}
    source = FakeSource(releases, missing="grype")
    outcome = lock_tools(project, lock, ("trivy", "grype"), {"github": source}, NOW, upgrade=True)
    assert [(c.tool, c.new) for c in outcome.changes] == [("trivy", "0.75.0")]
    assert outcome.failures == {}
    assert (
        str(outcome.deferred["grype"])
        == "0.117.0 -> 0.118.0 found, not locked here: npm is not installed here"
    )
    assert outcome.lock.tools["grype"] == lock.tools["grype"]  # the old entry stands

    # What the Lambda runs: every tool asked; the others' locked versions are the newest offered.
    current = {name: [Release(t.version, days_ago(60))] for name, t in lock.tools.items()}
    everywhere = FakeSource({**current, **releases}, missing="grype")
    report = run_update(
        project, lock, dict.fromkeys(("github", "hashicorp", "nodejs", "pypi", "npm"), everywhere), NOW
    )
    assert report.failures == {} and report.metrics()["ToolsDeferred"] == 1
    body = pr_body(project, lock, outcome)
    assert "**Found, to be locked by hand**" in body
    # The deferral's words are inert Markdown: "->" cannot open an HTML tag.
    assert "- `grype`: 0.117.0 -\\> 0.118.0 found, not locked here: npm is not installed here; " in body
    assert "run `builder lock --upgrade grype` where it is installed" in body


def test_upgrade_with_nothing_new_downloads_nothing(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    lock = load_lockfile(repo_project)
    source = FakeSource(
        {"trivy": [Release("0.74.0", days_ago(60))], "grype": [Release("0.117.0", days_ago(60))]}
    )
    outcome = lock_tools(project, lock, ("trivy", "grype"), {"github": source}, NOW, upgrade=True)
    assert sorted(source.asked) == ["grype", "trivy"]
    assert source.locked == []
    assert not outcome.changed
    assert outcome.lock.dumps() == lock.dumps()


def test_an_exact_pin_never_moves(repo_project: Path) -> None:
    edit(repo_project / "tools.yaml", 'version: ">=0.116,<1"', 'version: "0.117.0"')
    project = load_project(binary_project(repo_project))
    source = FakeSource({"grype": [Release("0.117.0", days_ago(1)), Release("0.118.0", days_ago(60))]})
    outcome = lock_tools(
        project, load_lockfile(repo_project), ("grype",), {"github": source}, NOW, upgrade=True
    )
    assert not outcome.changed and source.locked == []


def test_no_release_fits_lists_what_was_tried(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    source = FakeSource({"trivy": [Release("1.2.0", days_ago(9)), Release("0.80.0", days_ago(1))]})
    outcome = lock_tools(
        project, load_lockfile(repo_project), ("trivy",), {"github": source}, NOW, upgrade=True
    )
    assert outcome.failures == {
        "trivy": "trivy: no release satisfies '>=0.72,<1' (tried: 1.2.0 (outside the constraint), "
        "0.80.0 (newer than the 3d cooldown))"
    }


def test_one_failing_upstream_does_not_lose_the_others(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    lock = load_lockfile(repo_project)
    source = FakeSource(
        {"grype": [Release("0.118.0", days_ago(9))], "tflint": [Release("0.65.0", days_ago(9))]},
        failing={"trivy": "GET https://api.example.test/repos/aquasecurity/trivy/releases: HTTP 500"},
    )
    outcome = lock_tools(project, lock, ("grype", "tflint", "trivy"), {"github": source}, NOW, upgrade=True)
    assert sorted(c.tool for c in outcome.changes) == ["grype", "tflint"]
    assert outcome.failures == {
        "trivy": "GET https://api.example.test/repos/aquasecurity/trivy/releases: HTTP 500"
    }
    assert outcome.lock.tools["trivy"] == lock.tools["trivy"]


def test_upstreams_are_asked_at_once(repo_project: Path) -> None:
    import threading
    import time

    project = load_project(binary_project(repo_project))
    inside, most = 0, 0
    guard = threading.Lock()

    class Slow(FakeSource):
        def releases(self, tool: Tool) -> list[Release]:
            nonlocal inside, most
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with guard:
                inside -= 1
            return [Release(load_lockfile(repo_project).tools[tool.name].version, days_ago(99))]

    source = Slow({})
    binaries = ("grype", "node", "terraform", "tflint", "trivy")
    sources = {"github": source, "hashicorp": source, "nodejs": source}
    lock_tools(project, load_lockfile(repo_project), binaries, sources, NOW, upgrade=True, jobs=8)
    assert most >= 3


def test_the_lockfile_is_dropped_of_tools_no_longer_in_the_catalogue(repo_project: Path) -> None:
    project = load_project(binary_project(repo_project))
    lock = load_lockfile(repo_project)
    extra = dataclasses.replace(lock.tools["trivy"], name="old-tool")
    outcome = lock_tools(project, lock.with_tool(extra), (), {"github": FakeSource({})}, NOW)
    assert outcome.removed == ["old-tool"] and "old-tool" not in outcome.lock.tools
