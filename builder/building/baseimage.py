"""The local Debian base image: made from the apt mirror this machine uses, for machines with no registry.

The work is a shell script shipped in the package (debootstrap, docker import, then proofs
that python3 makes a venv and that a BuildKit build reads a secret from it); the same script
is what scripts/make-base-image runs before the project is installed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.building.engine import ENV_VAR, DockerClient
from builder.config.settings import Settings
from builder.errors import UserError

_SCRIPT = Path(__file__).resolve().parent.parent / "data" / "make-base-image.sh"
_DEFAULT = "builder-debian:bookworm"


@dataclass(frozen=True)
class BaseImageResult:
    name: str
    outcome: str  # "built" or "reused"


def local_base_images(settings: Settings) -> list[str]:
    """The configured base images not pinned by digest: the ones this machine is expected to make."""
    refs = [image.ref for image in settings.base_images.values() if image.digest is None]
    return refs or [_DEFAULT]


def make_base_image(
    name: str, client: DockerClient, on_line: Callable[[str], None], env: Mapping[str, str] = os.environ
) -> BaseImageResult:
    """Make ``name`` unless it exists, then prove it; progress lines go to ``on_line``."""
    process = subprocess.Popen(
        ["bash", str(_SCRIPT), name],
        env={**env, ENV_VAR: client.path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None and process.stdout is not None
    said: list[str] = []
    for line in process.stderr:
        said.append(line.rstrip("\n"))
        on_line(said[-1])
    last = process.stdout.read().strip().splitlines()
    if process.wait() != 0 or not last:
        failed = [line.split("FAILED: ", 1)[1] for line in said if "FAILED: " in line]
        raise UserError(f"cannot make base image {name}: {failed[-1] if failed else 'see the output above'}")
    outcome, _, made = last[-1].partition(" ")
    return BaseImageResult(made, outcome)
