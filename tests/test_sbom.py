"""SBOMs from the lockfile: valid CycloneDX 1.6, exactly the lock's components, the same bytes every time."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from builder.attesting.dpkg import distro, installed
from tests.conftest import REPO
from tests.helpers import run_cli

SHIPPED = sorted(p.name for p in (REPO / "images").iterdir() if (p / "image.yaml").is_file())


def validate(text: str) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)


def expected_components(root: Path, image: str) -> set[tuple[str, str, str, str, str]]:
    """(tool, name, version, hash algorithm, hex digest) of every file the image takes in, read from
    builder.lock and images/<image>/image.yaml as plain YAML: not through builder's own model."""
    lock = yaml.safe_load((root / "builder.lock").read_text())["tools"]
    definition = yaml.safe_load((root / "images" / image / "image.yaml").read_text())
    platforms = yaml.safe_load((root / "builder.yaml").read_text()).get("platforms") or [
        "linux/amd64",
        "linux/arm64",
    ]
    platforms = definition.get("platforms", platforms)
    found = set()
    for tool in definition.get("tools", []):
        entry = lock[tool]
        for platform, artifact in entry.get("artifacts", {}).items():
            if platform in platforms:
                found.add((tool, tool, entry["version"], "SHA-256", artifact["sha256"]))
        for platform, reqs in entry.get("requirements", {}).items():
            if platform in platforms:
                found |= {
                    (tool, r["name"], r["version"], "SHA-256", f["sha256"]) for r in reqs for f in r["files"]
                }
        for path, package in entry.get("npm", {}).items():
            digest = base64.b64decode(package["integrity"].removeprefix("sha512-")).hex()
            found.add(
                (
                    tool,
                    path.rsplit("node_modules/", 1)[-1].rsplit("/", 1)[-1],
                    package["version"],
                    "SHA-512",
                    digest,
                )
            )
    return found


def listed_components(document: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    out = set()
    for component in document.get("components", []):
        tool = next(p["value"] for p in component["properties"] if p["name"] == "builder:tool")
        for digest in component["hashes"]:
            out.add((tool, component["name"], component["version"], digest["alg"], digest["content"]))
    return out


@pytest.mark.parametrize("image", SHIPPED)
def test_the_sbom_of_each_shipped_image_is_valid_and_lists_exactly_the_lock(
    repo_project: Path, image: str
) -> None:
    out = repo_project / f"{image}.cdx.json"
    result = run_cli(repo_project, "sbom", image, "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    validate(text)
    document = json.loads(text)
    assert document["specVersion"] == "1.6"
    assert listed_components(document) == expected_components(repo_project, image)
    assert len(document.get("components", [])) == len({c["bom-ref"] for c in document.get("components", [])})


def test_builder_sbom_container_scanners_offline_is_stable_and_carries_evidence(repo_project: Path) -> None:
    first = run_cli(repo_project, "sbom", "container-scanners")
    second = run_cli(repo_project, "sbom", "container-scanners")
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout  # no timestamp, no random serial: the same lock, the same bytes
    document = json.loads(first.stdout)
    assert "timestamp" not in document["metadata"]
    assert document["serialNumber"].startswith("urn:uuid:")
    lock = yaml.safe_load((repo_project / "builder.lock").read_text())["tools"]
    trivy = lock["trivy"]["artifacts"]["linux/amd64"]
    component = next(c for c in document["components"] if c["bom-ref"].startswith("trivy:linux/amd64:"))
    assert (
        component["purl"] == f"pkg:github/aquasecurity/trivy@{lock['trivy']['version']}?arch=amd64&os=linux"
    )
    assert component["externalReferences"] == [{"type": "distribution", "url": trivy["url"]}]
    records = [
        json.loads(p["value"]) for p in component["properties"] if p["name"].startswith("builder:evidence:")
    ]
    assert records == trivy["evidence"]
    facts = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert facts["builder:lock-digest"].startswith("sha256:")


def test_one_platform_only_lists_that_platforms_files(repo_project: Path) -> None:
    result = run_cli(repo_project, "sbom", "container-scanners", "--platform", "linux/arm64")
    assert result.exit_code == 0, result.output
    refs = {c["bom-ref"] for c in json.loads(result.stdout)["components"]}
    assert refs and all(":linux/arm64:" in ref for ref in refs)


def test_an_unknown_image_is_refused_naming_the_images(repo_project: Path) -> None:
    result = run_cli(repo_project, "sbom", "container-scanner")
    assert result.exit_code == 2
    assert "no image named 'container-scanner'" in result.output


STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u9
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u9
"""


def test_dpkg_status_gives_the_installed_packages_only() -> None:
    packages = installed(STATUS)
    assert [(p.name, p.version, p.architecture, p.source) for p in packages] == [
        ("base-files", "12.4+deb12u9", "amd64", ""),
        ("libc6", "2.36-9+deb12u9", "amd64", "glibc"),
    ]
    assert distro('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n') == "debian-12"
