"""The Sigstore evidence records as builder.lock holds them: they read back equal, and bad keys fail at their line."""

from __future__ import annotations

import pytest
import yaml

from builder.config.document import parse_yaml
from builder.errors import ConfigError
from builder.locking.evidence import (
    CosignSignature,
    Evidence,
    GitHubAttestation,
    NonePublished,
    Pep740Attestation,
    Signer,
    SigstoreBundle,
    read_evidence,
)

WORKFLOW = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"
RECORDS: list[Evidence] = [
    SigstoreBundle("tool_1.0.0_amd64.tar.gz", WORKFLOW, ISSUER, 12, 1760000000),
    CosignSignature("tool_1.0.0_checksums.txt", WORKFLOW, ISSUER, 13, 1760000001),
    GitHubAttestation("checksums.txt", WORKFLOW, ISSUER, 14, 1760000002),
    Pep740Attestation("tool-1.0.0-py3-none-any.whl", WORKFLOW, ISSUER, 15, 1760000003),
    NonePublished("tool on the index"),
]


def _read(text: str) -> tuple[Evidence, ...]:
    return read_evidence(parse_yaml(text, "builder.lock").root())


def test_every_record_reads_back_equal() -> None:
    text = yaml.safe_dump([r.to_data() for r in RECORDS], sort_keys=True)
    assert _read(text) == tuple(RECORDS)


def test_signers_are_what_continuity_compares() -> None:
    assert [r.signer() for r in RECORDS] == [
        Signer("sigstore", WORKFLOW, ISSUER),
        Signer("sigstore", WORKFLOW, ISSUER),
        Signer("github-attestation", WORKFLOW, ISSUER),
        Signer("pep740", WORKFLOW, ISSUER),
        None,
    ]
    assert (
        RECORDS[2].summary()
        == f"checksums.txt signed by {WORKFLOW} (GitHub artifact attestation, log index 14)"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("log_index", "'12'", "expected an integer, found a string"),
        ("log_index", "-1", "expected a count of at least 0, found -1"),
        ("issuer", "accounts", "bad URL 'accounts'"),
        ("signed", "../x", "file name"),
    ],
)
def test_a_bad_key_fails_at_its_line(key: str, value: str, expected: str) -> None:
    lines = yaml.safe_dump([RECORDS[0].to_data()], sort_keys=True).splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.lstrip("- ").startswith(f"{key}:"))
    prefix = lines[number - 1].split(f"{key}:")[0]
    lines[number - 1] = f"{prefix}{key}: {value}"
    with pytest.raises(ConfigError) as caught:
        _read("\n".join(lines) + "\n")
    assert str(caught.value).startswith(f"builder.lock:{number}: ") and expected in str(caught.value), (
        caught.value
    )


def test_a_missing_key_is_named() -> None:
    with pytest.raises(ConfigError, match="log_index"):
        _read(
            "- {kind: sigstore-bundle, signed: a, identity: b, issuer: 'https://x.test', integrated_time: 1}\n"
        )
