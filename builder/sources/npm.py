"""npm tools: the whole installed tree of a package, each entry pinned by its sha512 integrity.

The tree is resolved by npm itself (``npm install --package-lock-only``): the same resolver
that ``npm ci`` in the image will trust. Download URLs are dropped so any registry serves it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from builder.errors import UserError
from builder.lockfile import NpmPackage
from builder.redact import redact
from builder.versions import numeric

Runner = Callable[..., subprocess.CompletedProcess[str]]
_KEEP = ("dependencies", "optionalDependencies", "peerDependencies", "bin", "optional", "os", "cpu")


def _npm(args: list[str], cwd: Path, registry: str | None, run: Runner) -> str:
    argv = ["npm", *args, "--no-audit", "--no-fund", "--ignore-scripts"]
    if registry:
        argv += ["--registry", registry]
    result = run(argv, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "ERR" in line] or ["no output"]
        raise UserError(f"npm {args[0]} failed: {redact(lines[-1])}")
    return result.stdout


def latest_version(package: str, spec: str, registry: str | None, run: Runner = subprocess.run) -> str:
    with tempfile.TemporaryDirectory(prefix="builder-npm-") as tmp:
        out = _npm(["view", f"{package}@{spec}", "version", "--json"], Path(tmp), registry, run)
    found = json.loads(out)
    versions = [str(v) for v in (found if isinstance(found, list) else [found])]
    if not versions:
        raise UserError(f"npm has no version of {package} matching '{spec}'")
    return max(versions, key=lambda v: numeric(v) or ())


def resolve_tree(
    package: str, version: str, registry: str | None, run: Runner = subprocess.run
) -> tuple[NpmPackage, ...]:
    with tempfile.TemporaryDirectory(prefix="builder-npm-") as tmp:
        folder = Path(tmp)
        manifest = {"name": "builder-resolve", "version": "0.0.0", "private": True}
        (folder / "package.json").write_text(json.dumps(manifest))
        _npm(
            ["install", "--package-lock-only", "--save-exact", f"{package}@{version}"],
            folder,
            registry,
            run,
        )
        lock = json.loads((folder / "package-lock.json").read_text())
    return packages_from_lock(lock)


def packages_from_lock(lock: Mapping[str, Any]) -> tuple[NpmPackage, ...]:
    out = []
    for path, entry in sorted(lock.get("packages", {}).items()):
        if not path:
            continue
        if "integrity" not in entry:
            raise UserError(f"npm lock entry {path} has no integrity: cannot pin it")
        extra = {k: entry[k] for k in _KEEP if k in entry}
        out.append(NpmPackage(path, entry["version"], entry["integrity"], extra))
    return tuple(out)
