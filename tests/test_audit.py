"""`builder audit` against a fake OSV API: the table, --fail-on, audit.yaml, formats, offline archives,
and Security Hub (moto): stable ids, a rerun changes nothing, a fix resolves."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import boto3
import pytest
from moto import mock_aws

from builder.auditing.matching import Verdict, match
from builder.auditing.records import read_record
from builder.auditing.severity import cvss3_base_score, severity_of
from tests.aws_calls import recording
from tests.fakes.osv import FakeOsv, cvss3, ecosystem_range, git_range, record, serve
from tests.helpers import run_cli

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8


def osv_records() -> list[dict[str, object]]:
    """Records about the minimal fixture's locked packages: dep 2.0, pyapp 0.3.1, left 1.0.1, hello 1.2.3."""
    return [
        record("PYSEC-2026-1", "PyPI", "dep", [ecosystem_range({"introduced": "0"}, {"fixed": "2.1"})],
               aliases=["CVE-2026-1001"], severity=cvss3(CRITICAL)),
        record("GHSA-aaaa-bbbb-cccc", "PyPI", "PyApp", [ecosystem_range({"introduced": "0.1"}, {"fixed": "0.3.0"})],
               database_specific={"severity": "HIGH"}),  # fixed before the locked 0.3.1
        record("GHSA-left-0001-mod", "npm", "left", [ecosystem_range({"introduced": "1.0.0"}, {"fixed": "1.0.2"})],
               database_specific={"severity": "MODERATE"}),
        record("GHSA-gone-0000-wdn", "npm", "left", [ecosystem_range({"introduced": "0"})],
               withdrawn="2026-11-02T00:00:00Z", database_specific={"severity": "CRITICAL"}),
        record("GO-2026-0042", "Go", "github.com/example/hello",
               [ecosystem_range({"introduced": "1.2.0"}, {"last_affected": "1.2.3"}, kind="SEMVER")],
               aliases=["CVE-2026-2002", "GHSA-hell-o000-0042"], database_specific={"severity": "HIGH"}),
        record("OSV-2026-77", "Go", "github.com/example/hello",
               [git_range("https://example.test/hello.git", {"introduced": "0"}, {"fixed": "abc123"})],
               versions=["1.2.3"], database_specific={"severity": "LOW"}),
        record("OSV-2026-78", "Go", "github.com/example/hello",
               [git_range("https://example.test/hello.git", {"introduced": "0"}, {"fixed": "def456"})]),
    ]  # fmt: skip


@pytest.fixture
def osv() -> Iterator[tuple[FakeOsv, str]]:
    state = FakeOsv()
    state.add(*osv_records())
    state.git_tags["OSV-2026-78"] = ["1.2.3"]
    with serve(state) as url:
        yield state, url


@pytest.fixture
def project(minimal_project: Path, osv: tuple[FakeOsv, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("BUILDER_OSV_API")  # tests/conftest.py's: these read builder.yaml's upstreams.osv
    with (minimal_project / "builder.yaml").open("a") as f:
        f.write(f"upstreams:\n  osv: {osv[1]}\n  osv_archive: {osv[1]}\n")
    tools = minimal_project / "tools.yaml"
    tools.write_text(tools.read_text().replace(
        "    repository: example/hello\n",
        "    repository: example/hello\n    audit: {ecosystem: Go, package: github.com/example/hello}\n"))  # fmt: skip
    return minimal_project


def rows(output: str) -> set[tuple[str, ...]]:
    return {tuple(line.split()[:5]) for line in output.splitlines()[1:] if line and not line[0].isupper()}


def test_the_table_lists_what_the_ranges_hold_and_high_fails(project: Path, osv: tuple[FakeOsv, str]) -> None:
    result = run_cli(project, "audit", "--all", "--fail-on", "high")
    assert result.exit_code == 1, result.output
    table = result.stdout.splitlines()
    assert table[0].split() == ["tool", "package", "version", "id", "severity", "fixed", "in"]
    found = {tuple(line.split()[:4]) for line in table[1:6]}
    assert found == {
        ("pyapp", "dep", "2.0", "PYSEC-2026-1"),
        ("jstool", "left", "1.0.1", "GHSA-left-0001-mod"),
        ("hello", "github.com/example/hello", "1.2.3", "GO-2026-0042"),
        ("hello", "github.com/example/hello", "1.2.3", "OSV-2026-77"),
        ("hello", "github.com/example/hello", "1.2.3", "OSV-2026-78"),
    }
    by_id = {line.split()[3]: line for line in table[1:6]}
    assert "critical 9.8" in by_id["PYSEC-2026-1"] and by_id["PYSEC-2026-1"].rstrip().endswith("2.1")
    assert "medium" in by_id["GHSA-left-0001-mod"] and by_id["GHSA-left-0001-mod"].rstrip().endswith("1.0.2")
    assert "GIT range" in by_id["OSV-2026-78"] and "GIT range" not in by_id["OSV-2026-77"]
    assert "GHSA-aaaa-bbbb-cccc" not in result.stdout and "GHSA-gone-0000-wdn" not in result.stdout
    assert "not audited zippy 2.1.0" in result.stdout and "not audited solo 0.9.0" in result.stdout
    assert "2 findings at high or above" in result.stderr
    pages = [q for q in osv[0].queries if q.get("page_token")]
    # hello's three records came in two pages of two: the third is in the table above
    assert [(q["package"]["name"], q["page_token"]) for q in pages] == [("github.com/example/hello", "2")]


def test_no_finding_at_the_threshold_exits_0(project: Path, osv: tuple[FakeOsv, str]) -> None:
    for vuln_id in ("PYSEC-2026-1", "GO-2026-0042"):
        osv[0].remove(vuln_id)
    result = run_cli(project, "audit", "--all", "--fail-on", "high")
    assert result.exit_code == 0, result.output
    assert "GHSA-left-0001-mod" in result.stdout
    assert run_cli(project, "audit", "--all", "--fail-on", "medium").exit_code == 1


def test_records_are_revalidated_with_their_etag(project: Path, osv: tuple[FakeOsv, str]) -> None:
    assert run_cli(project, "audit", "--all").exit_code == 0
    assert run_cli(project, "audit", "scanners").exit_code == 0
    gets = [path for method, path in osv[0].seen if method == "GET"]
    assert gets.count("/v1/vulns/PYSEC-2026-1") == 2  # asked again, answered 304 from the cache


def write_ignores(project: Path, text: str) -> None:
    (project / "audit.yaml").write_text(text)


def test_an_accepted_finding_is_listed_apart_and_does_not_fail(project: Path) -> None:
    write_ignores(project, """ignore:
  - {id: CVE-2026-1001, tool: pyapp, reason: dep's parser never sees input, expires: 2099-01-01}
  - {id: GO-2026-0042, tool: hello, reason: not reachable, expires: 2099-01-01}
""")  # fmt: skip
    result = run_cli(project, "audit", "--all", "--fail-on", "high")
    assert result.exit_code == 0, result.output
    assert (
        "accepted  pyapp PYSEC-2026-1: dep's parser never sees input (until 2099-01-01, audit.yaml:2)"
        in result.stdout
    )


def test_an_expired_acceptance_fails_and_says_where(project: Path) -> None:
    write_ignores(
        project, "ignore:\n  - {id: GO-2026-0042, tool: hello, reason: later, expires: 2020-01-31}\n"
    )
    result = run_cli(project, "audit", "--all")
    assert result.exit_code == 1
    assert "audit.yaml:2: the acceptance of GO-2026-0042 in hello expired on 2020-01-31" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignore:\n  - {id: X-1, tool: hello, reason: r}\n", "audit.yaml:2: ignore[0]: missing required key 'expires'"),
        ("ignore:\n  - id: X-1\n    tool: helo\n    reason: r\n    expires: 2099-01-01\n",
         "audit.yaml:3: ignore[0].tool: unknown tool 'helo' (did you mean 'hello'?)"),
        ("ignore:\n  - id: X-1\n    tool: hello\n    reason: r\n    expires: soon\n",
         "audit.yaml:5: ignore[0].expires: 'soon' is not a date"),
        ("ignore:\n  - {id: X-1, tool: hello, reason: r, expires: 2099-01-01, by: me}\n",
         "audit.yaml:2: ignore[0].by: unknown key 'by'"),
    ],
)  # fmt: skip
def test_bad_ignore_entries_name_file_and_line(project: Path, text: str, message: str) -> None:
    write_ignores(project, text)
    result = run_cli(project, "audit", "--all")
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr


def test_json_sarif_and_junit_reports(project: Path, tmp_path: Path) -> None:
    data = json.loads(run_cli(project, "audit", "--all", "--format", "json").stdout)
    critical = next(f for f in data["findings"] if f["id"] == "PYSEC-2026-1")
    assert critical["aliases"] == ["CVE-2026-1001"] and critical["score"] == 9.8
    assert critical["images"] == ["scanners"] and critical["fixed"] == ["2.1"]
    assert (
        run_cli(project, "audit", "--all", "--format", "sarif", "-o", str(tmp_path / "a.sarif")).exit_code
        == 0
    )
    sarif = json.loads((tmp_path / "a.sarif").read_text())
    assert {r["ruleId"]: r["level"] for r in sarif["runs"][0]["results"]}["PYSEC-2026-1"] == "error"
    suite = ET.fromstring(run_cli(project, "audit", "--all", "--format", "junit").stdout)
    assert suite.get("failures") == "5" and len(suite.findall("testcase/failure")) == 5


def test_offline_from_the_mirrored_archives(project: Path, osv: tuple[FakeOsv, str], tmp_path: Path) -> None:
    mirrored = run_cli(project, "store", "osv", "--into", str(tmp_path / "osv"))
    assert mirrored.exit_code == 0, mirrored.output
    assert {p.parent.name for p in (tmp_path / "osv").glob("*/all.zip")} == {"Go", "PyPI", "npm"}
    osv[0].records.clear()  # nothing online any more
    result = run_cli(project, "audit", "--all", "--offline", "--archives", str(tmp_path / "osv"))
    assert result.exit_code == 0, result.output
    ids = {line.split()[3] for line in result.stdout.splitlines()[1:5]}
    assert ids == {"PYSEC-2026-1", "GHSA-left-0001-mod", "GO-2026-0042", "OSV-2026-77"}
    # A GIT-only record that lists 1.2.3 is decided from the archive too; one that does not is
    # said to be undecided, not silently dropped.
    assert "OSV-2026-77" in result.stdout
    assert (
        "undecided github.com/example/hello 1.2.3 (Go, in hello): OSV-2026-78 has only GIT ranges"
        in result.stdout
    )


def test_offline_without_archives_says_what_to_run(project: Path, tmp_path: Path) -> None:
    result = run_cli(project, "audit", "--all", "--offline", "--archives", str(tmp_path / "none"))
    assert result.exit_code == 1 and "run `builder store osv`" in result.stderr


# ---------------------------------------------------------------- matching and severity, unit by unit


@pytest.mark.parametrize(
    ("events", "version", "held"),
    [
        ([{"introduced": "0"}, {"fixed": "1.5"}], "1.4.9", True),
        ([{"introduced": "0"}, {"fixed": "1.5"}], "1.5", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"}], "2.1", True),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}, {"fixed": "2.3"}], "1.9", False),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4.post1", False),
        ([{"introduced": "1.0"}, {"limit": "1.3"}], "1.3", False),
        ([{"introduced": "1.0rc1"}, {"fixed": "1.0"}], "1.0rc2", True),  # PEP 440 order, not text
    ],
)  # fmt: skip
def test_pypi_ranges(events: list[dict[str, str]], version: str, held: bool) -> None:
    verdict = match(
        read_record(record("X", "PyPI", "P_p", [ecosystem_range(*events)]), "t"), "PyPI", "p-p", version
    )
    assert verdict.verdict is (Verdict.AFFECTED if held else Verdict.NOT_AFFECTED)


def test_semver_ranges_order_prereleases_and_numbers() -> None:
    span = ecosystem_range({"introduced": "1.10.0-beta.2"}, {"fixed": "1.10.0"}, kind="SEMVER")
    data = read_record(record("X", "npm", "p", [span]), "t")
    held = {
        v for v in ("1.9.0", "1.10.0-beta.1", "1.10.0-beta.10", "1.10.0") if match(data, "npm", "p", v).fixed
    }
    assert held == {"1.10.0-beta.10"}
    assert match(data, "npm", "P", "1.10.0-beta.10").verdict is Verdict.NOT_AFFECTED  # npm names are exact


def test_a_git_only_record_is_undecided_without_a_versions_list() -> None:
    data = record(
        "X", "Go", "m", [git_range("https://example.test/m.git", {"introduced": "0"}, {"fixed": "f00"})]
    )
    assert match(read_record(data, "t"), "Go", "m", "1.0.0").verdict is Verdict.UNDECIDED
    data["affected"][0]["versions"] = ["1.0.0"]  # type: ignore[index]
    assert match(read_record(data, "t"), "Go", "m", "1.0.0").verdict is Verdict.AFFECTED
    assert match(read_record(data, "t"), "Go", "m", "1.1.0").verdict is Verdict.NOT_AFFECTED


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        (CRITICAL, 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
        ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
        ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", None),
    ],
)
def test_cvss3_base_scores(vector: str, score: float | None) -> None:
    assert cvss3_base_score(vector) == score


def test_a_v4_vector_without_a_label_is_unknown() -> None:
    v4 = [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]
    assert severity_of(read_record(record("X", "npm", "p", [], severity=v4), "t")).level == "unknown"
    labelled = record("X", "npm", "p", [], severity=v4, database_specific={"severity": "CRITICAL"})
    assert severity_of(read_record(labelled, "t")).level == "critical"


def test_today_is_not_expired() -> None:
    from builder.auditing.ignores import Ignore, check_expiry

    today = datetime.date(2026, 12, 2)
    check_expiry([Ignore("X", "t", "r", today, "audit.yaml:2")], today)


def test_a_bad_audit_key_in_tools_yaml_names_its_line(project: Path) -> None:
    tools = project / "tools.yaml"
    tools.write_text(tools.read_text().replace("{ecosystem: Go, package:", "{ecosystem: golang, package:"))
    result = run_cli(project, "audit", "--all")
    line = next(n for n, text in enumerate(tools.read_text().splitlines(), 1) if "golang" in text)
    assert result.exit_code == 2
    assert f"tools.yaml:{line}: tools.hello.audit.ecosystem: unknown OSV ecosystem 'golang'" in result.stderr


# ---------------------------------------------------------------- Security Hub, against moto

ACCOUNT, REGION = "123456789012", "eu-west-1"
PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "BUILDER_AWS_ACCOUNT_ID": ACCOUNT, "AWS_REGION": REGION}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("securityhub", region_name=REGION)


def findings(client: Any) -> dict[str, dict[str, Any]]:
    return {f["Id"]: f for f in client.get_findings(MaxResults=100)["Findings"]}


def test_a_rerun_changes_nothing_and_a_fix_resolves(
    project: Path, osv: tuple[FakeOsv, str], hub: Any
) -> None:
    first = run_cli(project, "audit", "scanners", "--security-hub")
    assert first.exit_code == 0, first.output
    assert "security hub: 5 imported, 0 resolved, 0 unchanged" in first.stderr
    before = findings(hub)
    wanted = f"builder-audit/{ACCOUNT}/scanners/pyapp/PyPI/dep/PYSEC-2026-1"
    assert wanted in before and all(f["ProductArn"] == PRODUCT for f in before.values())
    assert before[wanted]["Severity"]["Label"] == "CRITICAL"
    assert (
        before[wanted]["Resources"][0]["Id"]
        == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/scanners/scanners"
    )

    second = run_cli(project, "audit", "scanners", "--security-hub")
    assert "security hub: 0 imported, 0 resolved, 5 unchanged" in second.stderr, second.output
    assert findings(hub) == before

    osv[0].remove("PYSEC-2026-1")  # as if the bump to dep 2.1 had landed
    third = run_cli(project, "audit", "scanners", "--security-hub")
    assert "security hub: 0 imported, 1 resolved, 4 unchanged" in third.stderr, third.output
    after = findings(hub)
    assert set(after) == set(before)
    assert after[wanted]["RecordState"] == "ARCHIVED" and after[wanted]["Workflow"]["Status"] == "RESOLVED"
    assert all(f["RecordState"] == "ACTIVE" for fid, f in after.items() if fid != wanted)
    fourth = run_cli(project, "audit", "scanners", "--security-hub")
    assert "security hub: 0 imported, 0 resolved, 4 unchanged" in fourth.stderr


def test_an_audit_of_another_image_leaves_these_findings_alone(
    project: Path,
    osv: tuple[FakeOsv, str],
    hub: Any,
) -> None:
    assert run_cli(project, "audit", "scanners", "--security-hub").exit_code == 0
    result = run_cli(project, "audit", "base", "--security-hub")
    assert "security hub: 0 imported, 0 resolved, 0 unchanged" in result.stderr, result.output
    assert all(f["RecordState"] == "ACTIVE" for f in findings(hub).values())


def test_more_than_a_hundred_findings_go_in_batches(
    project: Path, osv: tuple[FakeOsv, str], hub: Any
) -> None:
    osv[0].add(*(record(f"PYSEC-2026-{n}", "PyPI", "dep", [ecosystem_range({"introduced": "0"})])
                 for n in range(100, 230)))  # fmt: skip
    osv[0].page_size = 1000
    with recording() as calls:
        result = run_cli(project, "audit", "scanners", "--security-hub")
    assert "security hub: 135 imported" in result.stderr, result.output
    assert [c.operation for c in calls] == ["GetFindings", "BatchImportFindings", "BatchImportFindings"]
    assert len(hub.get_findings(MaxResults=100)["Findings"]) == 100  # and a next page holds the rest


def test_without_an_account_it_says_what_to_set(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUILDER_AWS_ACCOUNT_ID", raising=False)
    monkeypatch.delenv("CODEBUILD_BUILD_ARN", raising=False)
    result = run_cli(project, "audit", "scanners", "--security-hub")
    assert result.exit_code == 1 and "set BUILDER_AWS_ACCOUNT_ID and AWS_REGION" in result.stderr


def test_the_shipped_lock_is_audited_package_by_package(
    repo_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUILDER_OSV_API")
    state = FakeOsv()
    state.add(
        record("PYSEC-2026-20", "PyPI", "aiohttp", [ecosystem_range({"introduced": "3.0"}, {"fixed": "3.14.6"})],
               database_specific={"severity": "HIGH"}),
        record("BIT-node-2026-1", "Bitnami", "node",
               [ecosystem_range({"introduced": "24.0.0"}, {"fixed": "24.15.1"}, kind="SEMVER")],
               severity=cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")),
        record("GO-2026-3000", "Go", "github.com/aquasecurity/trivy",
               [ecosystem_range({"introduced": "0"}, {"fixed": "0.74.0"}, kind="SEMVER")]),  # fixed at the lock's
    )  # fmt: skip
    with serve(state) as url:
        with (repo_project / "builder.yaml").open("a") as f:
            f.write(f"upstreams:\n  osv: {url}\n")
        result = run_cli(repo_project, "audit", "--all", "--format", "json", "--fail-on", "critical")
    assert result.exit_code == 0, result.output
    found = {
        (f["tool"], f["package"], f["version"], f["id"], f["severity"])
        for f in json.loads(result.stdout)["findings"]
    }
    assert found == {
        ("checkov", "aiohttp", "3.14.5", "PYSEC-2026-20", "high"),
        ("node", "node", "24.15.0", "BIT-node-2026-1", "medium"),
    }
    asked = {(q["package"]["ecosystem"], q["package"]["name"]) for q in state.queries}
    assert {
        ("Go", "github.com/anchore/grype"),
        ("Go", "github.com/hashicorp/terraform"),
        ("npm", "retire"),
    } <= asked


def test_security_hub_out_of_reach_is_one_line(
    project: Path, hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDER_SECURITYHUB_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run_cli(project, "audit", "scanners", "--security-hub")
    assert result.exit_code == 1, result.output
    assert "error: securityhub GetFindings failed: EndpointConnectionError" in result.stderr
    assert "Traceback" not in result.output


def test_a_transient_querybatch_failure_is_retried_and_a_lasting_one_is_one_line(
    project: Path, osv: tuple[FakeOsv, str]
) -> None:
    osv[0].unavailable = 1
    assert run_cli(project, "audit", "--all").exit_code == 0
    assert [m for m, p in osv[0].seen if p == "/v1/querybatch"].count("POST") >= 2
    osv[0].unavailable = 100
    result = run_cli(project, "audit", "--all")
    assert result.exit_code == 1
    assert f"error: POST {osv[1]}/v1/querybatch: HTTP 503 Service Unavailable" in result.stderr


def test_the_bump_audit_leaves_out_what_audit_yaml_accepts_until_its_date(
    project: Path, osv: tuple[FakeOsv, str]
) -> None:
    """A critical the team accepted is not flagged at the top of the bump PR; once lapsed, it is."""
    from builder.auditing.bump import audit_bump
    from builder.auditing.osv import OsvApi
    from builder.config.project import load_project
    from builder.locking.lockfile import Lockfile, load_lockfile
    from builder.plumbing.http import HttpClient, make_session

    loaded, lock = load_project(project), load_lockfile(project)
    before = Lockfile({n: t for n, t in lock.tools.items() if n != "pyapp"}, lock.schema)
    database = OsvApi(HttpClient(make_session(), cache_dir=project / ".http"), osv[1])
    flagged = audit_bump(loaded, before, lock, ["pyapp"], database, datetime.date(2026, 12, 2))
    assert [f.id for f in flagged.criticals] == ["PYSEC-2026-1"] and flagged.accepted == 0
    (project / "audit.yaml").write_text(
        "ignore:\n  - {id: CVE-2026-1001, tool: pyapp, reason: not reachable from the CLI, expires: 2027-01-31}\n"
    )
    accepted = audit_bump(loaded, before, lock, ["pyapp"], database, datetime.date(2026, 12, 2))
    assert accepted.criticals == [] and accepted.accepted == 1
    lapsed = audit_bump(loaded, before, lock, ["pyapp"], database, datetime.date(2027, 2, 1))
    assert [f.id for f in lapsed.criticals] == ["PYSEC-2026-1"]
    (project / "audit.yaml").write_text(
        "ignore:\n  - {id: X, tool: nosuch, reason: r, expires: 2027-01-31}\n"
    )
    broken = audit_bump(loaded, before, lock, ["pyapp"], database)
    assert broken.problem.startswith("audit.yaml:2: ") and "unknown tool 'nosuch'" in broken.problem
