"""Small pieces: YAML locations, version constraints, the lockfile model, redaction, the graph."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import builder
from builder.config.document import parse_yaml
from builder.config.platforms import Platform
from builder.config.versions import Constraint, parse_cooldown
from builder.errors import ConfigError, LockfileError
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import SCHEMA, LockedTool, Lockfile, digest_of, loads
from builder.plumbing.redact import redact
from tests.fakes.evidence import TESTED


def test_every_module_imports_alone() -> None:
    names = [m.name for m in pkgutil.walk_packages(builder.__path__, "builder.")]
    assert "builder.building.render" in names
    for name in names:
        done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}: {done.stderr}"


def test_every_module_does_no_work_at_import() -> None:
    for info in pkgutil.walk_packages(builder.__path__, "builder."):
        importlib.import_module(info.name)  # would fail here if an import reached the network or disk


def test_document_remembers_lines() -> None:
    doc = parse_yaml("a:\n  b:\n    - x\n    - y\n  c: 1\n", "f.yaml")
    assert doc.line_of(("a", "b", 1)) == 4
    assert doc.line_of(("a", "c")) == 5
    assert doc.line_of(("a", "missing")) == 1
    assert doc.root().child("a", None).where() == "f.yaml:1"


def test_document_rejects_non_string_keys() -> None:
    with pytest.raises(ConfigError, match=r"f.yaml:2: keys must be strings"):
        parse_yaml("a: 1\n3: 2\n", "f.yaml")


@pytest.mark.parametrize(
    ("text", "allowed", "refused"),
    [
        # A prerelease is in range by its release numbers; whether prereleases are taken at all is
        # the catalogue's `prereleases` key (sources.base.choose).
        ("^1.2", ["1.2.0", "1.9.9", "1.3.0-rc.1"], ["2.0.0", "1.1.9", "2.0.0-rc.1"]),
        ("^0.74", ["0.74.0", "0.74.9"], ["0.75.0"]),
        ("~1.15", ["1.15.0", "1.15.8"], ["1.16.0"]),
        ("~1.15.3", ["1.15.3", "1.15.9"], ["1.16.0", "1.15.2"]),
        (">=0.72,<1", ["0.72.0", "0.99.1"], ["1.0.0", "0.71.9"]),
        ("1.15.x", ["1.15.0", "1.15.99"], ["1.16.0"]),
        ("1.15.8", ["1.15.8", "v1.15.8"], ["1.15.9"]),
        ("24", ["24.0.0", "24.15.0"], ["25.0.0"]),
        ("*", ["0.0.1", "99.0.0"], []),
    ],
)
def test_semver_constraints(text: str, allowed: list[str], refused: list[str]) -> None:
    constraint = Constraint.parse(text, "semver")
    assert all(constraint.allows(v) for v in allowed)
    assert not any(constraint.allows(v) for v in refused)


def test_pep440_constraints_and_pins() -> None:
    assert Constraint.parse(">=1.8,<2", "pep440").allows("1.9.4")
    assert not Constraint.parse(">=1.8,<2", "pep440").allows("2.0")
    assert Constraint.parse("==1.9.4", "pep440").exact == "1.9.4"
    assert Constraint.parse("1.15.8", "semver").exact == "1.15.8"
    assert Constraint.parse("^1.15", "semver").exact is None
    with pytest.raises(ValueError, match="not a PEP 440 specifier"):
        Constraint.parse("^1", "pep440")


def test_cooldown() -> None:
    assert parse_cooldown("3d").days == 3
    assert parse_cooldown("12h").seconds == 12 * 3600
    with pytest.raises(ValueError, match="bad cooldown"):
        parse_cooldown("3 weeks")


AMD64 = Platform("linux", "amd64")


def locked(version: str = "1.0.0", sha: str = "a" * 64) -> LockedTool:
    return LockedTool(
        "t",
        version,
        Artifacts({AMD64: Artifact("t.tgz", "https://example.test/t.tgz", sha, 3, evidence=TESTED)}),
    )


def test_lockfile_round_trip_is_byte_stable() -> None:
    text = Lockfile({"t": locked()}).dumps()
    assert loads(text).dumps() == text
    assert text.startswith("# builder.lock")
    assert "Regenerate with `builder lock`" in text


def test_lockfile_errors_name_the_line() -> None:
    good = Lockfile({"t": locked()}).dumps()
    with pytest.raises(
        LockfileError, match=r"builder.lock:\d+: .*malformed sha256 'A+' \(expected 64 lowercase hex"
    ):
        loads(good.replace("a" * 64, "A" * 64))
    with pytest.raises(
        LockfileError, match=r"builder.lock:3: schema: unknown schema version 9 \(expected 2\)"
    ):
        loads(good.replace(f"schema: {SCHEMA}", "schema: 9"))
    with pytest.raises(LockfileError, match=r"unsupported platform 'linux/mips'"):
        loads(good.replace("linux/amd64", "linux/mips"))
    with pytest.raises(LockfileError, match=r"builder.lock:\d+: invalid YAML"):
        loads(good + "  broken: [\n")


def test_tool_digest_changes_with_any_pin() -> None:
    assert locked().digest() == locked().digest()
    assert locked().digest() != locked(sha="b" * 64).digest()
    assert digest_of([locked()]) != digest_of([locked()], "parent")


def test_redaction() -> None:
    token = "eyJhbGciOi.secret"
    assert (
        redact(f"GET https://aws:{token}@host/simple/ failed") == "GET https://aws:****@host/simple/ failed"
    )
    assert redact(f"//host/npm/:_authToken={token}") == "//host/npm/:_authToken=****"
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ****"
    assert redact(f"token {token} leaked", [token]) == "token **** leaked"


def test_shipped_project_loads(tmp_path: Path) -> None:
    from builder.config.graph import levels
    from builder.config.project import load_project
    from tests.conftest import REPO

    project = load_project(REPO)
    assert project.order[0] == "base"
    assert levels(project.images) == [
        ["base"],
        ["code-scanners", "container-scanners", "iac-scanners", "python-scanners", "security-tools"],
    ]
    assert {t.install.kind for t in project.tools.values()} == {"archive", "python-app", "npm-package"}
