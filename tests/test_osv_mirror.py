"""OSV's archives mirrored into CodeArtifact (the double) and read back by `builder audit --offline`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.auditing.osv_mirror import fetch_newest, publish_archives
from builder.auditing.osv_packages import ecosystem_of, mirror_version, mirrored_at, package_name
from builder.config.settings import CodeArtifact
from builder.errors import ChecksumError, UserError
from builder.plumbing.http import HttpClient, make_session
from builder.stores.codeartifact import CodeArtifactStore
from tests import test_audit
from tests.fakes.codeartifact import OWNER, REGION, CodeArtifactState, codeartifact_double, make_client
from tests.fakes.osv import FakeOsv
from tests.helpers import run_cli
from tests.test_audit import rows

DOMAIN = "security-tools-domain"
NOW = datetime(2026, 12, 3, 8, 15, 0, tzinfo=UTC)


@pytest.fixture
def ca(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, CodeArtifactState]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with codeartifact_double() as (url, state):
        monkeypatch.setenv("BUILDER_CODEARTIFACT_ENDPOINT", url)
        state.create(DOMAIN, "generic-store", "pip-store", "npm-store")
        yield url, state


# The audit tests' fake OSV and project, shared: a mirror must find what the API finds.
osv = test_audit.osv
project = test_audit.project


def findings(table: str) -> set[tuple[str, ...]]:
    return {r for r in rows(table) if r[0] in {"hello", "jstool", "pyapp"}}


def from_archives(online: str) -> set[tuple[str, ...]]:
    """What the archives can decide of an online table: all but the GIT-only record only the API matches."""
    return {r for r in findings(online) if r[3] != "OSV-2026-78"}


def osv_store(url: str) -> CodeArtifactStore:
    return CodeArtifactStore(make_client(url), CodeArtifact(DOMAIN, OWNER, REGION), "osv")


def test_store_then_offline_audit_finds_what_the_online_audit_finds(
    project: Path, osv: tuple[FakeOsv, str], ca: tuple[str, CodeArtifactState]
) -> None:
    online = run_cli(project, "audit", "--all")
    stored = run_cli(project, "store", "osv")
    assert stored.exit_code == 0, stored.output
    published = {
        (c.params["package"], c.params["namespace"]) for c in ca[1].operations("PublishPackageVersion")
    }
    assert published == {("eco--go", "osv"), ("eco--py-p-i", "osv"), ("eco-npm", "osv")}
    assert all(c.params["assetSHA256"] for c in ca[1].operations("PublishPackageVersion"))
    osv[0].records.clear()  # nothing online any more
    offline = run_cli(project, "audit", "--all", "--offline")
    assert offline.exit_code == 0, offline.output
    # The same findings, except the GIT-only record that only the API can match (said to be undecided).
    assert findings(offline.stdout) == from_archives(online.stdout)
    assert len(findings(online.stdout)) == 5
    assert "OSV-2026-78 has only GIT ranges" in offline.stdout
    assert "audit: OSV PyPI from the CodeArtifact mirror osv/eco--py-p-i 20" in offline.stderr
    assert "days old" not in offline.stderr


def test_an_altered_asset_is_refused(
    osv: tuple[FakeOsv, str], ca: tuple[str, CodeArtifactState], tmp_path: Path
) -> None:
    store = osv_store(ca[0])
    version = publish_archives(HttpClient(make_session()), osv[1], ["PyPI"], store, NOW, lambda *a, **k: None)
    ca[1].tamper("eco--py-p-i", version, "all.zip", b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(ChecksumError):
        fetch_newest(store, ["PyPI"], tmp_path / "out", NOW, lambda *a, **k: None)
    assert not (tmp_path / "out/PyPI/all.zip").exists()


def test_the_newest_mirror_is_used_and_an_old_one_warned_about(
    osv: tuple[FakeOsv, str], ca: tuple[str, CodeArtifactState], tmp_path: Path
) -> None:
    store, said = osv_store(ca[0]), []
    quiet = lambda *a, **k: None  # noqa: E731
    publish_archives(HttpClient(make_session()), osv[1], ["npm"], store, NOW - timedelta(days=20), quiet)
    newest = publish_archives(
        HttpClient(make_session()), osv[1], ["npm"], store, NOW - timedelta(days=9), quiet
    )
    assert newest == "2026.11.24-081500"
    fetch_newest(store, ["npm"], tmp_path, NOW, lambda m, err=False: said.append((m, err)))
    assert said[0] == ("audit: OSV npm from the CodeArtifact mirror osv/eco-npm 2026.11.24-081500", True)
    assert "9 days old" in said[1][0] and said[1][1]
    assert (tmp_path / "npm/all.zip").is_file()


def test_no_mirror_names_the_ecosystem_and_the_command(
    project: Path, ca: tuple[str, CodeArtifactState]
) -> None:
    result = run_cli(project, "audit", "--all", "--offline")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert "no OSV archive of Go in CodeArtifact (osv/eco--go): run `builder store osv`" in lines[-1]


@pytest.mark.parametrize(
    "hostile", ["Red Hat", "../x", "a/b", "", "SUSE:Linux Enterprise", "a-b", "x_y", "é"]
)
def test_hostile_ecosystem_names_are_refused(hostile: str) -> None:
    with pytest.raises(UserError, match="cannot be mirrored into CodeArtifact"):
        package_name(hostile)


def test_the_package_names_are_reversible_and_distinct() -> None:
    ecosystems = ["PyPI", "pypi", "npm", "Go", "Bitnami", "Debian:12", "Alpine:v3.18", "crates.io", "GIT"]
    names = [package_name(e) for e in ecosystems]
    assert len({n.lower() for n in names}) == len(ecosystems)
    assert [ecosystem_of(n) for n in names] == ecosystems
    assert package_name("Debian:12") == "eco--debian_12"


def test_mirror_versions_sort_by_time() -> None:
    assert mirror_version(NOW) == "2026.12.03-081500"
    assert mirrored_at("2026.12.03-081500") == NOW and mirrored_at("1.2.0") is None
    assert mirror_version(NOW + timedelta(hours=2)) > mirror_version(NOW)


def test_builder_yaml_audit_offline_is_the_default_and_the_buildspecs_say_so(
    project: Path, osv: tuple[FakeOsv, str], ca: tuple[str, CodeArtifactState]
) -> None:
    """An air-gapped CodeBuild: `audit: {offline: true}` reads the archives unless --online is asked."""
    with (project / "builder.yaml").open("a") as f:
        f.write("audit: {offline: true}\n")
    stored = run_cli(project, "store", "osv")  # into CodeArtifact, the project's store
    assert stored.exit_code == 0, stored.output
    online = run_cli(project, "audit", "--all", "--online")
    osv[0].records.clear()  # nothing online any more: only the archives can still find anything
    offline = run_cli(project, "audit", "--all")
    assert offline.exit_code == 0, offline.output
    assert findings(offline.stdout) == from_archives(online.stdout)
    assert run_cli(project, "render").exit_code == 0
    specs = [p.read_text() for p in (project / "buildspecs").glob("*/buildspec.yml")]
    assert specs and all('builder audit "$IMAGE_NAME" --offline --security-hub' in s for s in specs)
    assert not findings(run_cli(project, "audit", "--all", "--online").stdout)  # --online asks the API


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "audit: {offline: sometimes}",
            "builder.yaml:{line}: audit.offline: expected true or false, found a string",
        ),
        (
            "audit: {online: true}",
            "builder.yaml:{line}: audit.online: unknown key 'online' (did you mean 'offline'?)",
        ),
        ("audit: {}", "builder.yaml:{line}: audit: missing required key 'offline'"),
    ],
)
def test_a_bad_audit_section_names_its_line(project: Path, section: str, expected: str) -> None:
    text = (project / "builder.yaml").read_text()
    (project / "builder.yaml").write_text(text + section + "\n")
    result = run_cli(project, "audit", "--all")
    assert result.exit_code != 0
    assert expected.format(line=text.count("\n") + 1) in result.output, result.output
