"""Scratch folders: a run killed with SIGKILL leaves its folders; the next run removes them, and
never the folders of a run that is still alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from builder.plumbing.workdir import scratch, sweep
from tests.fakes.pypi import SimpleIndex, serve
from tests.test_source_pypi import fill

TOOLS = """\
tools:
  scanapp:
    source: pypi
    package: scanapp
    install: python-app
    check: {command: [scanapp, --version], pattern: '(\\S+)'}
"""


def _project(root: Path, index: str) -> Path:
    (root / "images/apps").mkdir(parents=True)
    (root / "images/apps/image.yaml").write_text("base: {external: debian}\ntools: [scanapp]\n")
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"base_images: {{debian: {{ref: 'x:1'}}}}\nindexes: {{pip: '{index}'}}\nplatforms: [linux/amd64]\n"
    )
    return root


def _builder(tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "builder", *args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _wait_for(tmp: Path, pattern: str, seconds: float = 60) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(tmp.glob(pattern))
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {pattern} in {tmp} after {seconds} s")


def test_a_killed_lock_leaves_folders_that_the_next_run_removes(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with serve(fill(SimpleIndex(delay=1.0))) as index:
        project = _project(tmp_path / "project", index.url)
        run = _builder(tmp, "--project", str(project), "lock")
        _wait_for(tmp, "builder-uv-*")
        os.killpg(run.pid, signal.SIGKILL)  # uv too: as an OOM kill or a CI timeout ends a job
        run.wait()
    left = sorted(p.name.rsplit("-", 1)[0] for p in tmp.iterdir())
    assert left == ["builder-lock", "builder-uv"], left

    done = subprocess.run([sys.executable, "-m", "builder", "--project", str(project), "lock", "--check"],
                          env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr  # not locked: the point is what it swept
    assert list(tmp.iterdir()) == []


def test_the_folders_of_a_live_run_are_kept(tmp_path: Path) -> None:
    with scratch("secrets", tmp_path) as mine, scratch("lock", tmp_path) as other:
        (mine / "npmrc").write_text("token")
        swept = subprocess.run(
            [sys.executable, "-c", f"from builder.plumbing.workdir import sweep; print(sweep(__import__('pathlib').Path({str(tmp_path)!r})))"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert swept.stdout.strip() == "[]"
        assert (mine / "npmrc").is_file() and other.is_dir()
    assert list(tmp_path.iterdir()) == []  # and gone once the run ends


def test_unowned_folders_go_only_when_old_and_nothing_else_is_touched(tmp_path: Path) -> None:
    old, fresh = tmp_path / "builder-npm-old", tmp_path / "builder-npm-fresh"
    old.mkdir()
    fresh.mkdir()
    stale_time = time.time() - 3600 - 60  # unowned folders go after an hour
    os.utime(old, (stale_time, stale_time))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "builder-uv-link").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "builder-unknown-kind").mkdir()
    (tmp_path / "builder-lock-file").write_text("not a folder")
    assert sweep(tmp_path) == [old]
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == ["builder-lock-file", "builder-npm-fresh", "builder-unknown-kind", "builder-uv-link",
                         "elsewhere"]  # fmt: skip
