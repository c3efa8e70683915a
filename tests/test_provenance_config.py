"""tools.yaml's ``provenance:``: the shipped values, and each mistake as one line naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.config.project import load_project
from tests.helpers import edit, line_of
from tests.test_config_errors import assert_config_error

TRIVY_KIND = "      kind: sigstore-bundle\n"
NODE = "    provenance: {kind: openpgp, signers: keyring}\n"


def test_the_shipped_catalogue_declares_the_upstreams_signatures(repo_project: Path) -> None:
    tools = load_project(repo_project).tools
    kinds = {name: tool.provenance.kind if tool.provenance else None for name, tool in tools.items()}
    assert kinds == {
        "trivy": "sigstore-bundle", "grype": "cosign", "tflint": "github-attestation", "semgrep": "none",
        "checkov": "pep740", "bandit": "pep740", "pip-audit": "pep740",
        "terraform": "openpgp", "node": "openpgp", "retire": None,  # npm: registry integrity
    }  # fmt: skip
    assert [tools[n].provenance.any_keyring_key for n in ("terraform", "node")] == [False, True]  # type: ignore[union-attr]
    trivy, grype, tflint = (tools[n].provenance for n in ("trivy", "grype", "tflint"))
    assert trivy is not None and trivy.accepts(
        "https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v0.70.0",
        "0.70.0",
    )
    assert not trivy.accepts(
        "https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v0.69.0",
        "0.70.0",
    )
    assert grype is not None and grype.signed == "grype_{version}_checksums.txt"
    assert tflint is not None and tflint.accepts(
        "https://github.com/terraform-linters/tflint/.github/workflows/release.yml@refs/tags/v0.60.0",
        "0.60.0",
    )
    assert not tflint.accepts(
        "https://github.com/terraform-linters/tflint/.github/workflows/other.yml@x", "0.60.0"
    )


@pytest.mark.parametrize(
    ("old", "new", "needle", "expected"),
    [
        (
            TRIVY_KIND,
            "      kind: pgp\n",
            "kind: pgp",
            "unknown provenance kind 'pgp' (expected one of: cosign,",
        ),
        (TRIVY_KIND, TRIVY_KIND + "      signed: x\n", "signed: x", "unknown key 'signed'"),
        (
            '      bundle: "{asset}.sigstore.json"\n',
            "",
            "provenance:  # one Sigstore",
            "missing required key 'bundle'",
        ),
        (
            TRIVY_KIND,
            TRIVY_KIND + "      identity_regex: '.*'\n",
            "provenance:  # one Sigstore",
            "give exactly one of 'identity' and 'identity_regex'",
        ),
        (
            "      identity_regex: 'https://github\\.com/terraform",
            "      identity_regex: '(https://github\\.com/terraform",
            "identity_regex: '(",
            "bad regular expression",
        ),
        (
            "      issuer: https://token.actions.githubusercontent.com\n",
            "      issuer: token\n",
            "issuer: token",
            "bad URL 'token'",
        ),
        (NODE, "    provenance: {kind: openpgp, signers: team}\n", "signers: team", "unknown signers 'team'"),
        (NODE, "    provenance: {kind: openpgp, identity: x}\n", "identity: x", "unknown key 'identity'"),
    ],
    ids=[
        "unknown-kind",
        "key-of-another-kind",
        "missing-key",
        "identity-twice",
        "bad-regex",
        "bad-issuer",
        "unknown-signers",
        "openpgp-identity",
    ],
)
def test_a_bad_provenance_names_its_line(
    repo_project: Path, old: str, new: str, needle: str, expected: str
) -> None:
    path = repo_project / "tools.yaml"
    edit(path, old, new)
    line = line_of(path, needle)
    message = assert_config_error(repo_project, f"tools.yaml:{line}", "render")
    assert expected in message, message


def test_builder_yaml_may_name_an_integrity_api_apart_from_the_pip_index(repo_project: Path) -> None:
    settings = repo_project / "builder.yaml"
    settings.write_text(
        settings.read_text() + "upstreams:\n  pypi_integrity: https://integrity.example.test\n"
    )
    assert load_project(repo_project).settings.upstreams["pypi_integrity"] == "https://integrity.example.test"
    settings.write_text(settings.read_text().replace("https://integrity.example.test", "not a url"))
    assert_config_error(
        repo_project,
        f"builder.yaml:{line_of(settings, 'not a url')}: upstreams.pypi_integrity: 'not a url' is not a URL",
    )
