"""A new install kind is one module, one partial and one registry line: here all three live in this file.

The toy kind installs a release file as a shell script run by an interpreter the catalogue names
(its own key), renders a side file, and asks the smoke test to find the interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.building.render import render_project
from builder.config.catalogue import Install, Tool
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.kinds import KINDS
from builder.kinds.base import Finding, Payload, Run, entry_points
from builder.kinds.release_files import Artifact, Artifacts, ReleaseFileKind, read_assets
from builder.locking.evidence import AssetDigest
from builder.locking.lockfile import LockedTool, check_entry, load_lockfile, write_lockfile
from tests.conftest import REPO
from tests.fakes.github import FakeGitHub
from tests.fakes.github import serve as serve_releases
from tests.helpers import run_cli

AMD64 = Platform("linux", "amd64")
PARTIAL = """\
# {{ tool.name }} {{ tool.version }}: {{ tool.about }}
FROM base AS tool-{{ tool.name | word }}
# hadolint ignore=DL3002
USER 0
COPY artifacts/{{ tool.name | word }}/ /tmp/artifacts/
COPY scripts/{{ tool.name | word }}.run /out/usr/local/bin/{{ tool.name | word }}
RUN set -eu; \\
{% for arch, artifact in tool.artifacts %}
    printf '%s  %s\\n' {{ artifact.sha256 | sh }} /tmp/artifacts/{{ artifact.file | sh }} | sha256sum --check --strict; \\
    install -D -m 0644 /tmp/artifacts/{{ artifact.file | sh }} /out/opt/tools/{{ tool.name | sh }}/script; \\
{% endfor %}
    chmod 0755 /out/usr/local/bin/{{ tool.name | sh }}
"""


@dataclass(frozen=True)
class ScriptInstall(Install):
    interpreter: str = "/bin/sh"


class ShellScript(ReleaseFileKind):
    name = "shell-script"
    keys = ("assets", "entry_points", "interpreter")

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install:
        node = fields["interpreter"]
        if not node.text().startswith("/"):
            raise node.error("expected an absolute path to the interpreter")
        return ScriptInstall(self.name, entry_points(None, tool), read_assets(fields, self.name), node.text())

    def side_files(
        self, folder: str, tool: Tool, version: str, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, bytes]:
        assert isinstance(tool.install, ScriptInstall)
        run = f'#!/bin/sh\nexec {tool.install.interpreter} /opt/tools/{tool.name}/script "$@"\n'
        return {f"{folder}/scripts/{tool.name}.run": run.encode()}

    def smoke(self, run: Run, tool: Tool, payload: Payload, platform: Platform) -> list[Finding]:
        assert isinstance(tool.install, ScriptInstall)
        code, _ = run(("test", "-x", tool.install.interpreter))
        return [
            Finding(f"{tool.name} interpreter", "present", "present" if code == 0 else "missing", code == 0)
        ]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimal_project: Path) -> Path:
    monkeypatch.setitem(KINDS, "shell-script", ShellScript())  # the one registry line
    (minimal_project / "templates/partials/shell-script.j2").write_text(PARTIAL)
    tools = (minimal_project / "tools.yaml").read_text()
    (minimal_project / "tools.yaml").write_text(
        tools
        + """\
  greet:
    source: github
    repository: example/greet
    install: shell-script
    interpreter: /bin/sh
    assets:
      linux/amd64: greet-{version}.sh
      linux/arm64: greet-{version}.sh
    check: {command: [greet], pattern: '(\\S+)'}
"""
    )
    image = minimal_project / "images/base/image.yaml"
    image.write_text(image.read_text() + "tools: [greet]\n")
    lock = load_lockfile(minimal_project)
    files = {p: Artifact("greet-1.0.0.sh", "https://example.test/greet-1.0.0.sh", "a" * 64, 10,
                         evidence=(AssetDigest("github"),)) for p in (AMD64, Platform("linux", "arm64"))}  # fmt: skip
    write_lockfile(minimal_project, lock.with_tool(LockedTool("greet", "1.0.0", Artifacts(files))))
    return minimal_project


def test_a_toy_kind_reads_its_own_key_renders_its_partial_and_side_file(project: Path) -> None:
    loaded = load_project(project)
    greet = loaded.tools["greet"]
    assert greet.install == ScriptInstall("shell-script", {"greet": "greet"}, greet.install.assets, "/bin/sh")
    files = render_project(loaded, load_lockfile(project))
    dockerfile = files["buildspecs/base/Dockerfile"].decode()
    assert "# greet 1.0.0: github example/greet" in dockerfile
    assert "COPY scripts/greet.run /out/usr/local/bin/greet" in dockerfile
    assert "COPY --from=tool-greet /out/ /" in dockerfile
    assert files["buildspecs/base/scripts/greet.run"].startswith(
        b"#!/bin/sh\nexec /bin/sh /opt/tools/greet/script"
    )
    check_entry(load_lockfile(project).tools["greet"], greet, (AMD64,))
    result = run_cli(project, "render")
    assert result.exit_code == 0, result.output


def test_its_key_is_checked_by_it_and_refused_for_other_kinds(project: Path) -> None:
    tools = project / "tools.yaml"
    tools.write_text(tools.read_text().replace("interpreter: /bin/sh", "interpreter: sh"))
    result = run_cli(project, "render")
    assert result.exit_code == 2
    assert "tools.yaml:" in result.output and "expected an absolute path to the interpreter" in result.output
    tools.write_text(
        tools.read_text().replace("install: binary", "install: binary\n    interpreter: /bin/sh", 1)
    )
    result = run_cli(project, "render")
    assert result.exit_code == 2 and "unknown key 'interpreter'" in result.output


def test_its_smoke_expectation_runs_through_the_kind(project: Path) -> None:
    loaded = load_project(project)
    greet = loaded.tools["greet"]
    payload = load_lockfile(project).tools["greet"].payload

    def run(command: tuple[str, ...]) -> tuple[int, str]:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout

    assert KINDS["shell-script"].smoke(run, greet, payload, AMD64) == [
        Finding("greet interpreter", "present", "present", True)
    ]


TOY_TOOLS = """\
tools:
  greet:
    source: github
    repository: example/greet
    install: shell-script
    interpreter: /bin/sh
    assets: {linux/amd64: "greet-{version}.sh"}
    check: {command: [greet], pattern: 'greet (\\S+)'}
"""


@pytest.mark.docker
def test_a_toy_kind_locks_builds_and_passes_smoke_through_the_real_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_image: str
) -> None:
    """The same three pieces, end to end: lock from a fake GitHub, a BuildKit build, the smoke test."""
    monkeypatch.setitem(KINDS, "shell-script", ShellScript())
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "templates/partials/shell-script.j2").write_text(PARTIAL)
    (root / "images/greeter").mkdir(parents=True)
    (root / "images/greeter/image.yaml").write_text("base: {external: debian}\ntools: [greet]\n")
    (root / "tools.yaml").write_text(TOY_TOOLS)
    with serve_releases(FakeGitHub()) as releases:
        releases.release("example/greet", "v2.1.0", {"greet-2.1.0.sh": b'echo "greet 2.1.0 says $1"\n'})
        (root / "builder.yaml").write_text(
            f"registry: localhost/toy-kind\nplatforms: [linux/amd64]\n"
            f"base_images: {{debian: {{ref: '{base_image}'}}}}\nupstreams: {{github_api: '{releases.url}', github_downloads: '{releases.download_url}'}}\n"
        )
        for verb in (("lock",), ("render",), ("build", "greeter", "--platform", "linux/amd64")):
            result = run_cli(root, *verb)
            assert result.exit_code == 0, result.output
    tag = next(
        w[0] for w in map(str.split, result.output.splitlines()) if w and w[0].startswith("localhost/")
    )
    said = subprocess.run(["docker", "run", "--rm", tag, "greet", "hello"], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert said.stdout == "greet 2.1.0 says hello\n", said.stderr
    smoke = run_cli(root, "smoke", "greeter", "--image", tag, "--platform", "linux/amd64")
    assert smoke.exit_code == 0, smoke.output
    assert "greet interpreter" in smoke.output and "present" in smoke.output
