"""The audit as a table (people), JSON (scripts), SARIF 2.1.0 (code scanning) or JUnit XML (CodeBuild)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from builder.auditing.findings import Audit, Finding

_COLUMNS = ("tool", "package", "version", "id", "severity", "fixed in")
_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "unknown": "warning",
}


def render(audit: Audit, fmt: str) -> str:
    return {"table": _table, "json": _as_json, "sarif": _sarif, "junit": _junit}[fmt](audit)


def _row(f: Finding) -> tuple[str, ...]:
    marker = " (GIT range: as OSV matched it)" if f.by_server else ""
    return (f.component.tool, f.component.name, f.component.version, f.id + marker, str(f.severity),
            ", ".join(f.fixed) or "-")  # fmt: skip


def _table(audit: Audit) -> str:
    rows = [_COLUMNS, *(_row(f) for f in audit.findings)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += [
        f"accepted  {f.component.tool} {f.id}: {i.reason} (until {i.expires}, {i.where})"
        for f, i in audit.ignored
    ]
    lines += [f"undecided {c}: {vid} has only GIT ranges (commits, not versions); ask the OSV API"
              for c, vid in audit.undecided]  # fmt: skip
    lines += [f"not audited {u.tool} {u.version}: no `audit:` package in tools.yaml" for u in audit.unaudited]
    lines.append(
        f"{len(audit.findings)} findings in {audit.components} components, {len(audit.ignored)} accepted"
    )
    return "\n".join(lines)


def _data(f: Finding) -> dict[str, object]:
    c = f.component
    return {
        "tool": c.tool, "ecosystem": c.ecosystem, "package": c.name, "version": c.version, "id": f.id,
        "aliases": list(f.aliases), "severity": f.severity.level, "score": f.severity.score,
        "fixed": list(f.fixed), "summary": f.summary, "images": list(f.images), "by_server": f.by_server,
    }  # fmt: skip


def _as_json(audit: Audit) -> str:
    data = {
        "findings": [_data(f) for f in audit.findings],
        "accepted": [{**_data(f), "reason": i.reason, "expires": str(i.expires)} for f, i in audit.ignored],
        "undecided": [
            {"tool": c.tool, "package": c.name, "version": c.version, "id": v} for c, v in audit.undecided
        ],
        "not_audited": [{"tool": u.tool, "version": u.version} for u in audit.unaudited],
        "components": audit.components,
    }
    return json.dumps(data, indent=2, sort_keys=True)


def _sarif(audit: Audit) -> str:
    rules = {f.id: {"id": f.id, "shortDescription": {"text": f.summary or f.id},
                    "helpUri": f"https://osv.dev/vulnerability/{f.id}"} for f in audit.findings}  # fmt: skip
    results = [_sarif_result(f) for f in audit.findings]
    run = {"tool": {"driver": {"name": "builder audit", "informationUri": "https://osv.dev",
                               "rules": [rules[k] for k in sorted(rules)]}}, "results": results}  # fmt: skip
    return json.dumps(
        {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [run]},
        indent=2,
    )


def _junit(audit: Audit) -> str:
    """One test case per finding (failed) and per accepted finding (skipped, with its reason)."""
    suite = ET.Element("testsuite", name="builder audit", tests=str(len(audit.findings) + len(audit.ignored)),
                       failures=str(len(audit.findings)), skipped=str(len(audit.ignored)))  # fmt: skip
    for f in audit.findings:
        case = ET.SubElement(suite, "testcase", classname=f.component.tool, name=f"{f.component.name} {f.id}")
        failure = ET.SubElement(case, "failure", message=f"{f.id} {f.severity}", type=f.severity.level)
        failure.text = f"{f.component}: {f.summary}\nfixed in: {', '.join(f.fixed) or '-'}"
    for f, ignore in audit.ignored:
        case = ET.SubElement(suite, "testcase", classname=f.component.tool, name=f"{f.component.name} {f.id}")
        ET.SubElement(case, "skipped", message=f"accepted until {ignore.expires}: {ignore.reason}")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def _sarif_result(f: Finding) -> dict[str, object]:
    c = f.component
    text = f"{c} is affected by {f.id} ({f.severity}); fixed in {', '.join(f.fixed) or 'no release'}"
    logical = {"name": f"{c.tool}/{c.name}", "kind": "package"}
    return {
        "ruleId": f.id,
        "level": _SARIF_LEVEL[f.severity.level],
        "message": {"text": text},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": "builder.lock"}}, "logicalLocations": [logical]}
        ],
        "properties": {"severity": f.severity.level, "tool": c.tool, "version": c.version},
    }
