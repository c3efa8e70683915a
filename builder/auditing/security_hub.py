"""The audit in AWS Security Hub: one ASFF finding per image, package and vulnerability.

Finding ids are stable (``builder-audit/<account>/<image>/<tool>/<ecosystem>/<package>/<id>``),
so a rerun updates a finding instead of adding one; a bump that leaves a package vulnerable keeps
its finding, and one that fixes it archives it (RecordState ARCHIVED, Workflow RESOLVED). A
finding whose content is unchanged is not sent again, so an unchanged audit changes nothing.
Imported as the account's own product (``product/<account>/default``), which is the one ARN the
CodeBuild role may import to (terraform/modules/codebuild).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from builder.auditing.findings import Audit, Finding
from builder.errors import UserError
from builder.plumbing.aws import SETUP_ERRORS

_GENERATOR = "builder-audit"
_AWS_ERRORS = (BotoCoreError, ClientError, *SETUP_ERRORS)
_BATCH = 100  # BatchImportFindings' limit per call
_LABELS = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "medium": "MEDIUM",
    "low": "LOW",
    "unknown": "INFORMATIONAL",
}


@dataclass(frozen=True)
class Target:
    account: str
    region: str
    registry: str  # builder.yaml's registry: the images' repository prefix

    @property
    def product_arn(self) -> str:
        return f"arn:aws:securityhub:{self.region}:{self.account}:product/{self.account}/default"


@dataclass(frozen=True)
class Synced:
    imported: int  # new or changed
    resolved: int
    unchanged: int


def target_from_environment(env: Mapping[str, str], registry: str) -> Target:
    """Account and region from BUILDER_AWS_ACCOUNT_ID/AWS_REGION, else from CodeBuild's build ARN."""
    arn = env.get("CODEBUILD_BUILD_ARN", "").split(":")
    account = env.get("BUILDER_AWS_ACCOUNT_ID") or (arn[4] if len(arn) > 5 else "")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or (arn[3] if len(arn) > 5 else "")
    if not (account.isdigit() and len(account) == 12) or not region:
        raise UserError(
            "--security-hub needs the account and region: set BUILDER_AWS_ACCOUNT_ID and AWS_REGION"
        )
    return Target(account, region, registry)


def _finding_id(target: Target, image: str, finding: Finding) -> str:
    c = finding.component
    return f"{_GENERATOR}/{target.account}/{image}/{c.tool}/{c.ecosystem}/{c.name}/{finding.id}"


def _asff(target: Target, image: str, finding: Finding, now: str) -> dict[str, Any]:
    c = finding.component
    fixed = ", ".join(finding.fixed) or "no release yet"
    return {
        "SchemaVersion": "2018-10-08",
        "Id": _finding_id(target, image, finding),
        "ProductArn": target.product_arn,
        "GeneratorId": _GENERATOR,
        "AwsAccountId": target.account,
        "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": _LABELS[finding.severity.level]},
        "Title": f"{finding.id} in {c.name} {c.version} ({c.tool})"[:256],
        "Description": (finding.summary or finding.id)[:1024],
        "Remediation": {"Recommendation": {"Text": f"Bump {c.tool} to a release with {c.name} {fixed}"}},
        "ProductFields": {"builder/image": image, "builder/tool": c.tool, "builder/version": c.version},
        "Resources": [{"Type": "Container", "Id": f"{target.registry}/{image}", "Region": target.region}],
        "Vulnerabilities": [{"Id": finding.id, "VulnerablePackages": [
            {"Name": c.name, "Version": c.version, "PackageManager": c.ecosystem, "FixedInVersion": fixed}]}],
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }  # fmt: skip


def sync(client: Any, target: Target, audit: Audit, images: Iterable[str], now: datetime.datetime) -> Synced:
    """Import the audit's findings of ``images``; archive theirs that the audit no longer has."""
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    audited = set(images)
    wanted = {f["Id"]: f for f in _current(target, audit, audited, stamp)}
    existing = {
        f["Id"]: f
        for f in _existing(client, target)
        if f.get("ProductFields", {}).get("builder/image") in audited
    }
    send, unchanged = [], 0
    for fid, finding in wanted.items():
        old = existing.get(fid)
        if old is not None and old.get("RecordState") == "ACTIVE" and _content(old) == _content(finding):
            unchanged += 1
            continue
        send.append({**finding, "CreatedAt": old["CreatedAt"]} if old else finding)
    gone = [
        _resolved(f, stamp)
        for fid, f in existing.items()
        if fid not in wanted and f.get("RecordState") != "ARCHIVED"
    ]
    _import(client, send + gone)
    return Synced(len(send), len(gone), unchanged)


def _current(target: Target, audit: Audit, images: set[str], stamp: str) -> list[dict[str, Any]]:
    return [_asff(target, image, f, stamp) for f in audit.findings for image in f.images if image in images]


def _resolved(finding: dict[str, Any], stamp: str) -> dict[str, Any]:
    return {**finding, "UpdatedAt": stamp, "RecordState": "ARCHIVED", "Workflow": {"Status": "RESOLVED"}}


_COMPARED = (
    "Severity",
    "Title",
    "Description",
    "Remediation",
    "ProductFields",
    "Resources",
    "Vulnerabilities",
)


def _content(finding: Mapping[str, Any]) -> str:
    """What a rerun could change (the timestamps and Security Hub's own fields aside)."""
    fields = {key: finding.get(key) for key in _COMPARED}
    fields["ProductFields"] = {
        k: v for k, v in (finding.get("ProductFields") or {}).items() if k.startswith("builder/")
    }
    return hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()


def _existing(client: Any, target: Target) -> list[dict[str, Any]]:
    """builder's findings in this account's product, read with GetFindings (filtered here too)."""
    filters = {"ProductArn": [{"Value": target.product_arn, "Comparison": "EQUALS"}],
               "GeneratorId": [{"Value": _GENERATOR, "Comparison": "EQUALS"}]}  # fmt: skip
    found: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator("get_findings").paginate(Filters=filters, MaxResults=100):
            found += page["Findings"]
    except _AWS_ERRORS as e:  # say which call, and what to do
        raise UserError(
            f"securityhub GetFindings failed: {type(e).__name__}: {e} (is Security Hub enabled here?)"
        ) from None
    return [
        f for f in found if f.get("ProductArn") == target.product_arn and f.get("GeneratorId") == _GENERATOR
    ]


def _import(client: Any, findings: list[dict[str, Any]]) -> None:
    for start in range(0, len(findings), _BATCH):
        try:
            answer = client.batch_import_findings(Findings=findings[start : start + _BATCH])
        except _AWS_ERRORS as e:
            raise UserError(f"securityhub BatchImportFindings failed: {type(e).__name__}: {e}") from None
        if answer.get("FailedCount"):
            first = answer["FailedFindings"][0]
            count = answer["FailedCount"]
            raise UserError(
                f"Security Hub refused {count} findings, e.g. {first['Id']}: {first['ErrorMessage']}"
            )
