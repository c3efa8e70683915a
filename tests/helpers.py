"""Small helpers shared by tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner, Result

from builder.building.engine import DockerClient
from builder.cli.main import main


def run_cli(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), *args])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def remove_images(client: DockerClient, prefix: str) -> None:
    """Remove the images a test tagged ``prefix...`` (nothing else of the engine's is touched)."""
    images = subprocess.run([client.path, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    mine = [i for i in images if i.startswith(prefix)]
    if mine:
        subprocess.run([client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)
