"""Smoke tests: start the built image, ask every tool its version, run the image's own checks.

testcontainers starts the container; its reaper image cannot be pulled everywhere, so it is
turned off and the container is always stopped here instead. Every call it makes to the engine
goes through ``engine_calls``, so an engine that is not there is one line, not a traceback.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from builder.building.engine import engine_calls
from builder.config.catalogue import Tool
from builder.config.graph import ancestors
from builder.config.images import SmokeCheck
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.locking.lockfile import Lockfile, Requirement


@dataclass(frozen=True)
class CheckResult:
    name: str
    expected: str
    actual: str
    ok: bool
    output: str
    seconds: float


@contextmanager
def running(image: str) -> Iterator[Any]:
    from testcontainers.core.config import testcontainers_config  # imported late: only smoke needs it
    from testcontainers.core.container import DockerContainer

    testcontainers_config.ryuk_disabled = True
    with engine_calls(f"start {image} to smoke-test it"):  # docker-py asks the engine when it is made
        container = DockerContainer(image).with_command("sleep infinity")
        container.start()
    try:
        yield container
    finally:
        with engine_calls(f"stop the smoke-test container of {image}"):
            container.stop()


def _exec(container: Any, command: tuple[str, ...]) -> tuple[int, str]:
    with engine_calls(f"run {command[0]} in the smoke-test container"):
        code, output = container.exec(list(command))
    return int(code), output.decode(errors="replace").strip()


def smoke_image(project: Project, lock: Lockfile, name: str, image: str) -> list[CheckResult]:
    results = []
    with running(image) as container:
        for tool in project.image_tools(name):
            expected = lock.get(tool.name, project.images[name].tool_lines[tool.name]).version
            started = time.monotonic()
            code, output = _exec(container, tool.check.command)
            actual = tool.check.read(output) or f"(exit {code}, no version found)"
            ok = code == 0 and actual.lstrip("v") == expected.lstrip("v")
            results.append(
                CheckResult(f"{tool.name} version", expected, actual, ok, output, time.monotonic() - started)
            )
        results += _venv_checks(container, project, lock, name)
        for check in _checks(project, name):
            results.append(_run_check(container, check))
    return results


# What a Python app's virtualenv holds, as its own interpreter sees it (-I: no PYTHON* variable,
# no user site, no current folder): every distribution it could import code from.
_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([str(d.metadata['Name']), d.version] for d in m.distributions())))"
)


def _venv_checks(container: Any, project: Project, lock: Lockfile, name: str) -> list[CheckResult]:
    """Each Python app's virtualenv holds exactly its locked distributions: no pip, no setuptools."""
    apps = [tool for tool in project.image_tools(name) if tool.install == "python-app"]
    if not apps:
        return []
    platform = _platform(container)
    lines = project.images[name].tool_lines
    return [
        _venv_check(container, t, lock.get(t.name, lines[t.name]).requirements.get(platform)) for t in apps
    ]


def _platform(container: Any) -> Platform:
    with engine_calls("inspect the smoke-test image"):
        attrs = container.get_wrapped_container().image.attrs
    return Platform(str(attrs.get("Os", "")), str(attrs.get("Architecture", "")))


def _venv_check(container: Any, tool: Tool, locked: tuple[Requirement, ...] | None) -> CheckResult:
    started, name = time.monotonic(), f"{tool.name} venv"
    if locked is None:
        return CheckResult(name, "its locked distributions", "none locked for this platform", False, "", 0.0)
    wanted = {_key(r.name): r.version for r in locked}
    code, output = _exec(container, (f"/opt/tools/{tool.name}/bin/python", "-I", "-c", _DISTRIBUTIONS))
    try:
        found = {_key(n): str(v) for n, v in json.loads(output.splitlines()[-1])}
    except (ValueError, IndexError, TypeError):
        found, code = {}, code or 1
    actual = f"(exit {code})" if code else _difference(wanted, found) or "exactly those"
    expected = f"the {len(wanted)} locked distributions"
    return CheckResult(name, expected, actual, actual == "exactly those", output, time.monotonic() - started)


def _key(name: str) -> str:
    return str(canonicalize_name(name))


def _difference(wanted: dict[str, str], found: dict[str, str]) -> str:
    extra = [f"{n} {v}" for n, v in sorted(found.items()) if n not in wanted]
    missing = [f"{n} {v}" for n, v in sorted(wanted.items()) if n not in found]
    other = [f"{n} {found[n]} (locked {v})" for n, v in sorted(wanted.items())
             if n in found and not _same_version(found[n], v)]  # fmt: skip
    parts = [("unlocked", extra), ("missing", missing), ("other version", other)]
    return "; ".join(f"{label}: {', '.join(items)}" for label, items in parts if items)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _checks(project: Project, name: str) -> list[SmokeCheck]:
    chain = [*reversed(ancestors(name, project.images)), name]
    return [check for image in chain for check in project.images[image].smoke]


def _run_check(container: Any, check: SmokeCheck) -> CheckResult:
    started = time.monotonic()
    code, output = _exec(container, check.command)
    matched = check.output is None or re.search(check.output, output, re.MULTILINE) is not None
    expected = f"exit {check.exit_code}" + (f", output ~ /{check.output}/" if check.output else "")
    actual = f"exit {code}" + ("" if matched else ", output did not match")
    return CheckResult(
        check.name, expected, actual, code == check.exit_code and matched, output, time.monotonic() - started
    )


def table(results: list[CheckResult]) -> str:
    rows = [("check", "expected", "actual", "")] + [
        (r.name, r.expected, r.actual, "ok" if r.ok else "FAIL") for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def junit(suites: dict[str, list[CheckResult]]) -> bytes:
    root = ET.Element("testsuites")
    for image, results in suites.items():
        failures = sum(not r.ok for r in results)
        suite = ET.SubElement(
            root, "testsuite", name=f"smoke.{image}", tests=str(len(results)), failures=str(failures)
        )
        for r in results:
            case = ET.SubElement(
                suite, "testcase", classname=f"smoke.{image}", name=r.name, time=f"{r.seconds:.3f}"
            )
            if not r.ok:
                failure = ET.SubElement(case, "failure", message=f"expected {r.expected}, got {r.actual}")
                failure.text = r.output[-2000:]
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def write_junit(path: Path, suites: dict[str, list[CheckResult]]) -> None:
    from builder.plumbing.fsutil import atomic_write

    atomic_write(path, junit(suites))
