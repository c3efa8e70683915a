"""The updater Lambda's deployment zip: the builder package and its runtime dependencies, no tests.

Dependencies are the versions installed here (what the tests ran with), taken as manylinux
wheels for CPython 3.11 on x86_64 from the user's own pip index; boto3 is bundled too, so the
function runs the botocore the project was tested with rather than the runtime's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

from builder.errors import UserError
from builder.plumbing.workdir import scratch

_RUNTIME = ("jinja2", "markupsafe", "pyyaml", "requests", "packaging", "uv", "pysequoia", "boto3",
            # the signature checks (builder.signatures), at the versions the tests verified with
            "sigstore", "pypi-attestations", "cryptography", "pydantic", "pydantic-core")  # fmt: skip
_TAGS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
# sigstore's own command line wants these (rich's console); its verifier, ours, never imports them
_CLI_ONLY = ("rich", "pygments", "markdown_it", "mdurl")
# botocore's service models builder's AWS calls use (builder.plumbing.aws), and STS for credentials;
# the other four hundred services are two thirds of botocore and would take the zip past 50 MB
_SERVICES = ("codeartifact", "secretsmanager", "sts")
_STAMP = (2020, 1, 1, 0, 0, 0)  # fixed times: the same inputs give the same zip


def build_zip(root: Path, out: Path) -> Path:
    with scratch("lambda") as tmp:
        target = tmp / "package"
        _pip(["--no-deps", str(root)], target)
        pins = [f"{name}=={version(name)}" for name in _RUNTIME]
        platforms = [arg for tag in _TAGS for arg in ("--platform", tag)]
        wheels = [*platforms, "--python-version", "3.11", "--implementation", "cp", "--only-binary", ":all:"]
        _pip(["--upgrade", *wheels, *pins], target)  # --upgrade: replace the bin/ the first install made
        _drop(target)
        _zip(target, out)
    return out


def _pip(args: list[str], target: Path) -> None:
    argv = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
    ]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "ERROR" in line] or done.stderr.splitlines()[
            -1:
        ]
        raise UserError(f"pip could not assemble the Lambda package: {' '.join(lines)[:300]}")


def _drop(target: Path) -> None:
    """No byte-code caches, no console scripts but uv's binary (Python apps resolve with it), and
    nothing the Lambda never imports."""
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    for script in (target / "bin").glob("*"):
        if script.name != "uv":
            script.unlink()
    for package in _CLI_ONLY:
        shutil.rmtree(target / package, ignore_errors=True)
    for service in (target / "botocore/data").iterdir():
        if service.is_dir() and service.name not in _SERVICES:
            shutil.rmtree(service)


def _zip(folder: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(folder)), _STAMP)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(out)
