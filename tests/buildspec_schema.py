"""The keys CodeBuild accepts in a buildspec 0.2 (FACTS.md section 5; no JSON schema is published)."""

from __future__ import annotations

import re
from typing import Any

_TOP = {"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}
_ENV = {
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
}
_PHASES = {"install", "pre_build", "build", "post_build"}
_PHASE = {"run-as", "on-failure", "commands", "finally"}
_REPORT = {"files", "base-directory", "discard-paths", "file-format"}
_FORMATS = {"JUNITXML", "CUCUMBERJSON", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX",
            "CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV"}  # fmt: skip
_BATCH = {"fast-fail", "build-list", "build-graph", "build-matrix", "build-fanout"}
_GRAPH_ENTRY = {"identifier", "buildspec", "env", "ignore-failure", "depend-on"}
_BATCH_ENV = {"compute-type", "image", "privileged-mode", "type", "variables"}
_SHELLS = {"bash", "/bin/sh"}


def _keys(data: Any, allowed: set[str], where: str) -> None:
    assert isinstance(data, dict), f"{where}: expected a mapping, found {type(data).__name__}"
    unknown = set(data) - allowed
    assert not unknown, f"{where}: keys CodeBuild does not accept: {sorted(unknown)}"


def _strings(values: Any, where: str) -> None:
    assert isinstance(values, list) and values, f"{where}: expected a non-empty list"
    assert all(isinstance(v, str) for v in values), f"{where}: every command must be a string"


def validate_buildspec(spec: Any, path: str) -> None:
    _keys(spec, _TOP, path)
    assert str(spec.get("version")) == "0.2", f"{path}: version must be 0.2"
    env = spec.get("env", {})
    _keys(env, _ENV, f"{path}: env")
    assert env.get("shell", "bash") in _SHELLS, f"{path}: env.shell"
    assert all(isinstance(v, str) for v in env.get("variables", {}).values()), (
        f"{path}: variables must be strings"
    )
    _keys(spec["phases"], _PHASES, f"{path}: phases")
    for name, phase in spec["phases"].items():
        _keys(
            phase,
            _PHASE | ({"runtime-versions"} if name == "install" else set()),
            f"{path}: phases.{name}",
        )
        for key in ("commands", "finally"):
            if key in phase:
                _strings(phase[key], f"{path}: phases.{name}.{key}")
    for group, report in spec.get("reports", {}).items():
        _keys(report, _REPORT, f"{path}: reports.{group}")
        assert report.get("file-format", "JUNITXML") in _FORMATS, f"{path}: reports.{group}.file-format"


def validate_batch(spec: Any, path: str) -> None:
    _keys(spec, _TOP, path)
    _keys(spec["batch"], _BATCH, f"{path}: batch")
    ids = set()
    for i, entry in enumerate(spec["batch"]["build-graph"]):
        where = f"{path}: batch.build-graph[{i}]"
        _keys(entry, _GRAPH_ENTRY, where)
        assert re.fullmatch(r"[A-Za-z0-9_]+", entry["identifier"]), f"{where}: identifier"
        _keys(entry.get("env", {}), _BATCH_ENV, f"{where}.env")
        for parent in entry.get("depend-on", []):
            assert parent in ids, f"{where}: depends on '{parent}' which is not defined before it"
        ids.add(entry["identifier"])
