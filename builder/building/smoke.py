"""Smoke tests: start the built image, ask every tool its version, run the image's own checks.

testcontainers starts the container; its reaper image cannot be pulled everywhere, so it is
turned off and the container is always stopped here instead. Every call it makes to the engine
goes through ``engine_calls``, so an engine that is not there is one line, not a traceback.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.building.engine import engine_calls
from builder.config.graph import ancestors
from builder.config.images import SmokeCheck
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.kinds import KINDS
from builder.locking.lockfile import Lockfile


@dataclass(frozen=True)
class CheckResult:
    name: str
    expected: str
    actual: str
    ok: bool
    output: str
    seconds: float


@contextmanager
def _running(image: str) -> Iterator[Any]:
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
    with _running(image) as container:
        for tool in project.image_tools(name):
            expected = lock.get(tool.name, project.images[name].tool_lines[tool.name]).version
            started = time.monotonic()
            code, output = _exec(container, tool.check.command)
            actual = tool.check.read(output) or f"(exit {code}, no version found)"
            ok = code == 0 and actual.lstrip("v") == expected.lstrip("v")
            results.append(
                CheckResult(f"{tool.name} version", expected, actual, ok, output, time.monotonic() - started)
            )
        results += _kind_checks(container, project, lock, name)
        for check in _checks(project, name):
            results.append(_run_check(container, check))
    return results


def _kind_checks(container: Any, project: Project, lock: Lockfile, name: str) -> list[CheckResult]:
    """What each tool's install kind checks beyond its version (a Python app: its virtualenv's contents)."""
    platform: Platform | None = None
    results = []
    for tool in project.image_tools(name):
        locked = lock.get(tool.name, project.images[name].tool_lines[tool.name])
        platform = platform or _platform(container)
        started = time.monotonic()
        for found in KINDS[tool.install.kind].smoke(
            lambda command: _exec(container, command), tool, locked.payload, platform
        ):
            seconds = time.monotonic() - started
            results.append(
                CheckResult(found.name, found.expected, found.actual, found.ok, found.output, seconds)
            )
            started = time.monotonic()
    return results


def _platform(container: Any) -> Platform:
    with engine_calls("inspect the smoke-test image"):
        attrs = container.get_wrapped_container().image.attrs
    return Platform(str(attrs.get("Os", "")), str(attrs.get("Architecture", "")))


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


def _junit(suites: dict[str, list[CheckResult]]) -> bytes:
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

    atomic_write(path, _junit(suites))
