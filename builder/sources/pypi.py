"""Python apps: the complete, hash-pinned dependency set of each app, per target platform.

Resolution is delegated to uv (``uv pip compile``): a real resolver, fast, able to resolve for
a platform other than this machine's, and able to write a PEP 751 lock whose wheel list is
already narrowed to that platform, so the lockfile holds only hashes that can be installed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from builder.errors import UserError
from builder.lockfile import PackageFile, Requirement
from builder.platforms import Platform
from builder.redact import redact

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class PythonTarget:
    version: str  # "3.11"
    glibc: str  # "2.36"

    def uv_platform(self, platform: Platform) -> str:
        return f"{platform.machine}-manylinux_{self.glibc.replace('.', '_')}"


def uv_binary() -> str:
    from uv import find_uv_bin  # imported late: only resolution needs it

    return str(find_uv_bin())


def pip_index_url(configured: str | None, env: Mapping[str, str], run: Runner = subprocess.run) -> str | None:
    """The index to resolve against: builder.yaml, else the user's own pip configuration."""
    if configured:
        return configured
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"]
    result = run(
        ["python3", "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def resolve_app(
    requirement: str,
    target: PythonTarget,
    platform: Platform,
    index_url: str | None,
    run: Runner = subprocess.run,
) -> tuple[Requirement, ...]:
    """Resolve one app (``name`` + specifier) for one platform; every pinned wheel with its hash."""
    with tempfile.TemporaryDirectory(prefix="builder-uv-") as tmp:
        spec, out = Path(tmp) / "requirements.in", Path(tmp) / "pylock.toml"
        spec.write_text(requirement + "\n")
        argv = [uv_binary(), "pip", "compile", str(spec), "-o", str(out), "--format", "pylock.toml",
                "--python-version", target.version, "--python-platform", target.uv_platform(platform),
                "--only-binary", ":all:", "--no-header", "--quiet", "--no-config"]  # fmt: skip
        if index_url:
            argv += ["--index-url", index_url]
        env = {**os.environ, "UV_NO_PROGRESS": "1"}
        result = run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            lines = [line.strip() for line in result.stderr.splitlines() if line.strip()] or ["no output"]
            detail = redact("; ".join(lines[:3]))
            raise UserError(f"cannot resolve '{requirement}' for {platform}: {detail}")
        return requirements_from_pylock(tomllib.loads(out.read_text()))


def requirements_from_pylock(data: Mapping[str, Any]) -> tuple[Requirement, ...]:
    out = []
    for package in data.get("packages", []):
        files = tuple(_wheel(w) for w in package.get("wheels", []))
        if not files:
            raise UserError(f"{package['name']} {package['version']} has no wheel for the target platform")
        out.append(
            Requirement(package["name"], package["version"], tuple(sorted(files, key=lambda f: f.file)))
        )
    return tuple(sorted(out, key=lambda r: r.name))


def _wheel(wheel: Mapping[str, Any]) -> PackageFile:
    # Keep the file name only: the lockfile pins by name, version and hash, never by URL.
    name = wheel.get("name") or PurePosixPath(urlsplit(wheel["url"]).path).name
    return PackageFile(name, wheel["hashes"]["sha256"], wheel.get("size"))
