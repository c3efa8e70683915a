"""`builder base-image`: the local Debian base image, made from this machine's apt mirror, reused and checked."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from builder.building.baseimage import local_base_images
from builder.building.engine import find_client
from builder.config.settings import load_settings
from tests.helpers import edit, run_cli

pytestmark = pytest.mark.docker


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_client(None, {}).path, *args], capture_output=True, text=True, check=False)


def test_an_existing_base_image_is_reused_and_checked(base_image: str, repo_project: Path) -> None:
    result = run_cli(repo_project, "base-image")  # the names builder.yaml gives
    assert result.exit_code == 0, result.output
    assert f"{base_image}  (reused)" in result.output
    assert "builds with a BuildKit secret" in result.output  # the proof ran, and said so


def test_a_new_base_image_is_made_from_the_apt_mirror(base_image: str, repo_project: Path) -> None:
    name = f"builder-test-base:{secrets.token_hex(4)}"
    try:
        result = run_cli(repo_project, "base-image", name)
        assert result.exit_code == 0, result.output[-3000:]
        assert f"{name}  (built)" in result.output
        assert "debootstrap: Debian bookworm" in result.output  # progress before the long step
        release = docker("run", "--rm", "--network", "none", name, "cat", "/etc/debian_version")
        assert release.stdout.startswith("12."), release
        venv = docker("run", "--rm", "--network", "none", name, "python3", "-m", "venv", "/tmp/v")
        assert venv.returncode == 0, venv.stderr
        assert docker("run", "--rm", name, "ls", "/var/lib/apt/lists").stdout.strip() in ("", "partial")
    finally:
        docker("image", "rm", "-f", name)


def test_the_default_names_are_the_base_images_without_a_digest_pin(repo_project: Path) -> None:
    settings_file = repo_project / "builder.yaml"
    edit(settings_file, "    ref: builder-debian:bookworm\n",
         "    ref: builder-debian:bookworm\n  pinned:\n    ref: example.test/python:3.11\n"
         '    digest: "sha256:' + "a" * 64 + '"\n  mine:\n    ref: my-debian:12\n')  # fmt: skip
    assert local_base_images(load_settings(repo_project)) == ["builder-debian:bookworm", "my-debian:12"]
    edit(settings_file, "  debian:\n    ref: builder-debian:bookworm\n", "")
    edit(settings_file, "  mine:\n    ref: my-debian:12\n", "")
    # nothing local to make: the default
    assert local_base_images(load_settings(repo_project)) == ["builder-debian:bookworm"]


def test_a_build_whose_base_is_absent_says_how_to_make_it(base_image: str, repo_project: Path) -> None:
    absent = f"builder-absent-{secrets.token_hex(3)}:bookworm"
    edit(repo_project / "builder.yaml", "ref: builder-debian:bookworm", f"ref: {absent}")
    assert run_cli(repo_project, "render").exit_code == 0
    result = run_cli(repo_project, "build", "base", "--platform", "linux/amd64")
    assert result.exit_code != 0  # nothing to pull it from here
    assert f"make it with: builder base-image {absent}" in result.output
