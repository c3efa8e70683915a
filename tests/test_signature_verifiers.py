"""The verifiers against a fake Sigstore: the real sigstore and pypi-attestations libraries decide."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sigstore.models import TrustedRoot

from builder.config.provenance import Requirement
from builder.errors import SignatureError, UpstreamError
from builder.locking.evidence import Signer
from builder.plumbing.http import HttpClient
from builder.signatures.attestation import verify_attestations
from builder.signatures.base import Subject
from builder.signatures.bundle import verify_bundle
from builder.signatures.cosign import verify_cosign
from builder.signatures.pep740 import verify_pep740
from builder.signatures.rekor import RekorLog
from builder.signatures.trust import load_trusted_root
from tests.fakes.server import running
from tests.fakes.sigstore import (
    GITHUB_ISSUER,
    SLSA,
    CertificateAuthority,
    FakeSigstore,
    RekorHandler,
    attestations_answer,
    pep740_provenance,
)

TRIVY = "https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v{version}"
ASSET = b"trivy 0.70.0 for linux amd64"


def _subject(data: bytes, name: str = "trivy_0.70.0_Linux-64bit.tar.gz") -> Subject:
    return Subject(name, hashlib.sha256(data).hexdigest(), "0.70.0", data)


@pytest.fixture
def fake() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture
def root(fake: FakeSigstore, tmp_path: Path) -> TrustedRoot:
    path = tmp_path / "trusted_root.json"
    path.write_text(fake.trusted_root_json())
    return load_trusted_root(path)


@pytest.fixture
def rekor(fake: FakeSigstore) -> Iterator[RekorLog]:
    with running(RekorHandler, fake) as url:
        yield RekorLog(HttpClient(requests.Session()), url)


TRIVY_0_70 = TRIVY.replace("{version}", "0.70.0")


def _bundle_rule(identity: str = TRIVY) -> Requirement:
    return Requirement("sigstore-bundle", "tools.yaml:1", identity=identity, bundle="{asset}.sigstore.json")


def test_a_bundle_by_the_release_workflow_verifies(fake: FakeSigstore, root: TrustedRoot) -> None:
    fake.sign_blob(b"an earlier entry", "https://example.test/other")  # the proof is not trivial
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"))
    record = verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())
    assert record.signer() == Signer("sigstore", TRIVY.replace("{version}", "0.70.0"), GITHUB_ISSUER)
    assert record.log_index == 1
    assert "log index 1" in record.summary()


def test_the_digest_alone_verifies_a_bundle(fake: FakeSigstore, root: TrustedRoot) -> None:
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"))
    subject = Subject("x", hashlib.sha256(ASSET).hexdigest(), "0.70.0")
    assert verify_bundle(root, subject, fake.bundle_json(signed), _bundle_rule()).log_index == 0


@pytest.mark.parametrize(
    ("identity", "issuer", "reason"),
    [
        (
            "https://github.com/evil/trivy/.github/workflows/release.yaml@refs/tags/v0.70.0",
            GITHUB_ISSUER,
            "signed by",
        ),
        (TRIVY.replace("{version}", "0.69.0"), GITHUB_ISSUER, "signed by"),
        (TRIVY.replace("{version}", "0.70.0"), "https://accounts.example.test", "issued by"),
    ],
    ids=["wrong-identity", "other-version", "wrong-issuer"],
)
def test_a_bundle_by_someone_else_is_refused(
    fake: FakeSigstore, root: TrustedRoot, identity: str, issuer: str, reason: str
) -> None:
    signed = fake.sign_blob(ASSET, identity, issuer)
    with pytest.raises(SignatureError, match=reason):
        verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())


def test_a_bundle_for_other_bytes_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    signed = fake.sign_blob(b"other bytes", TRIVY.replace("{version}", "0.70.0"))
    with pytest.raises(SignatureError, match=r"digest mismatch|invalid for input"):
        verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())


def test_a_dsse_bundle_whose_statement_names_the_asset_verifies(
    fake: FakeSigstore, root: TrustedRoot
) -> None:
    """`cosign attest-blob` writes the other bundle form: an in-toto statement over the file."""
    signed = fake.sign_statement([("trivy.tar.gz", hashlib.sha256(ASSET).hexdigest())], SLSA, TRIVY_0_70)
    record = verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())
    assert (record.kind, record.signer()) == (
        "sigstore-bundle",
        Signer("sigstore", TRIVY_0_70, GITHUB_ISSUER),
    )


@pytest.mark.parametrize(
    ("subject", "identity", "reason"),
    [
        ("0" * 64, TRIVY_0_70, "is signed but its subject is not sha256"),
        (None, "https://github.com/evil/trivy/.github/workflows/release.yaml@refs/tags/v0.70.0", "signed by"),
    ],
    ids=["other-digest", "wrong-identity"],
)
def test_a_dsse_bundle_for_other_bytes_or_by_someone_else_is_refused(
    fake: FakeSigstore, root: TrustedRoot, subject: str | None, identity: str, reason: str
) -> None:
    digest = subject or hashlib.sha256(ASSET).hexdigest()
    signed = fake.sign_statement([("trivy.tar.gz", digest)], SLSA, identity)
    with pytest.raises(SignatureError, match=reason):
        verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())


def test_a_certificate_from_another_ca_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"), ca=CertificateAuthority("rogue"))
    with pytest.raises(SignatureError, match="certificate chain"):
        verify_bundle(root, _subject(ASSET), fake.bundle_json(signed), _bundle_rule())


def test_a_bundle_without_inclusion_proof_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"))
    with pytest.raises(SignatureError, match="inclusionProof: Field required"):
        verify_bundle(root, _subject(ASSET), fake.bundle_json(signed, proof=False), _bundle_rule())


def test_a_bundle_whose_proof_does_not_reach_the_root_is_refused(
    fake: FakeSigstore, root: TrustedRoot
) -> None:
    fake.sign_blob(b"an earlier entry", "https://example.test/other")
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"))
    bundle = fake.bundle(signed)
    proof = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]  # type: ignore[index]
    proof["hashes"] = [base64.b64encode(b"\0" * 32).decode()]
    with pytest.raises(SignatureError, match="inclusion proof contains invalid root hash"):
        verify_bundle(root, _subject(ASSET), json.dumps(bundle).encode(), _bundle_rule())


def test_a_tampered_checkpoint_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    signed = fake.sign_blob(ASSET, TRIVY.replace("{version}", "0.70.0"))
    bundle = fake.bundle(signed)
    entry = bundle["verificationMaterial"]["tlogEntries"][0]  # type: ignore[index]
    entry["inclusionProof"]["checkpoint"]["envelope"] = entry["inclusionProof"]["checkpoint"][
        "envelope"
    ].replace("\n1\n", "\n2\n", 1)
    with pytest.raises(SignatureError, match="checkpoint"):
        verify_bundle(root, _subject(ASSET), json.dumps(bundle).encode(), _bundle_rule())


def test_a_malformed_bundle_is_one_line(root: TrustedRoot) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_bundle(root, _subject(ASSET), b'{"mediaType": 1}', _bundle_rule())
    assert "\n" not in str(caught.value)


GRYPE = "https://github.com/anchore/grype/.github/workflows/release.yaml@refs/heads/main"
SUMS = b"abc  grype_0.90.0_linux_amd64.tar.gz\n"


def _cosign_rule() -> Requirement:
    return Requirement("cosign", "tools.yaml:1", identity=GRYPE, signed="grype_{version}_checksums.txt")


def test_a_detached_signature_verifies_with_its_log_entry(
    fake: FakeSigstore, root: TrustedRoot, rekor: RekorLog
) -> None:
    signed = fake.sign_blob(SUMS, GRYPE)
    sig = base64.b64encode(signed.signature)
    record = verify_cosign(
        root, _subject(SUMS, "grype_0.90.0_checksums.txt"), sig, signed.pem, rekor, _cosign_rule()
    )
    assert (record.kind, record.identity, record.log_index) == ("cosign-signature", GRYPE, 0)


def test_a_detached_signature_without_log_entry_is_refused(
    fake: FakeSigstore, root: TrustedRoot, rekor: RekorLog
) -> None:
    signed = fake.sign_blob(SUMS, GRYPE, logged=False)
    with pytest.raises(SignatureError, match="no entry"):
        verify_cosign(
            root,
            _subject(SUMS, "s.txt"),
            base64.b64encode(signed.signature),
            signed.pem,
            rekor,
            _cosign_rule(),
        )


def test_a_detached_signature_whose_entry_names_another_signature_is_refused(
    fake: FakeSigstore, root: TrustedRoot, rekor: RekorLog
) -> None:
    fake.sign_blob(SUMS, GRYPE)  # logged
    forged = fake.sign_blob(SUMS, GRYPE, logged=False)  # a second signature, never logged
    with pytest.raises(SignatureError, match="inconsistent"):
        verify_cosign(
            root,
            _subject(SUMS, "s.txt"),
            base64.b64encode(forged.signature),
            forged.pem,
            rekor,
            _cosign_rule(),
        )


TFLINT = r"https://github\.com/terraform-linters/tflint/\.github/workflows/release\.yml@.*"


def _attestation_rule() -> Requirement:
    return Requirement("github-attestation", "tools.yaml:1", identity_regex=TFLINT, signed="checksums.txt")


def test_an_attestation_of_the_digest_verifies(fake: FakeSigstore, root: TrustedRoot) -> None:
    digest = hashlib.sha256(SUMS).hexdigest()
    identity = "https://github.com/terraform-linters/tflint/.github/workflows/release.yml@refs/tags/v0.60.0"
    signed = fake.sign_statement([("checksums.txt", digest)], SLSA, identity)
    record = verify_attestations(
        root, _subject(SUMS, "checksums.txt"), attestations_answer(fake, [signed]), _attestation_rule()
    )
    assert record.signer() == Signer("github-attestation", identity, GITHUB_ISSUER)


def test_an_attestation_of_another_digest_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    identity = "https://github.com/terraform-linters/tflint/.github/workflows/release.yml@refs/tags/v0.60.0"
    signed = fake.sign_statement([("checksums.txt", "0" * 64)], SLSA, identity)
    with pytest.raises(SignatureError, match="subject is not sha256"):
        verify_attestations(
            root, _subject(SUMS, "checksums.txt"), attestations_answer(fake, [signed]), _attestation_rule()
        )


def test_no_attestation_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    with pytest.raises(SignatureError, match="no attestation"):
        verify_attestations(root, _subject(SUMS, "checksums.txt"), {"attestations": []}, _attestation_rule())


WHEEL = "bandit-1.8.0-py3-none-any.whl"
BANDIT = r"https://github\.com/PyCQA/bandit/\.github/workflows/publish-to-pypi\.yml@.*"


def test_pep740_provenance_verifies(fake: FakeSigstore, root: TrustedRoot) -> None:
    digest = hashlib.sha256(b"wheel").hexdigest()
    raw = pep740_provenance(fake, WHEEL, digest, "PyCQA/bandit", "publish-to-pypi.yml")
    rule = Requirement("pep740", "tools.yaml:1", identity_regex=BANDIT)
    record = verify_pep740(root, Subject(WHEEL, digest, "1.8.0"), raw, rule)
    assert record.signer() is not None and record.signer().scheme == "pep740"  # type: ignore[union-attr]


def test_pep740_by_another_workflow_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    digest = hashlib.sha256(b"wheel").hexdigest()
    raw = pep740_provenance(fake, WHEEL, digest, "someone/bandit", "publish-to-pypi.yml")
    with pytest.raises(SignatureError, match="signed by"):
        verify_pep740(
            root, Subject(WHEEL, digest, "1.8.0"), raw, Requirement("pep740", "t:1", identity_regex=BANDIT)
        )


def test_pep740_for_other_bytes_is_refused(fake: FakeSigstore, root: TrustedRoot) -> None:
    raw = pep740_provenance(fake, WHEEL, "1" * 64, "PyCQA/bandit", "publish-to-pypi.yml")
    with pytest.raises(SignatureError, match="subject is not sha256"):
        verify_pep740(
            root, Subject(WHEEL, "2" * 64), raw, Requirement("pep740", "t:1", identity_regex=BANDIT)
        )


def test_the_pinned_root_is_sigstore_public_good() -> None:
    data = json.loads(
        (Path(__file__).parent.parent / "builder/data/keys/sigstore/trusted_root.json").read_text()
    )
    assert data["tlogs"][0]["baseUrl"].startswith("https://rekor.")
    load_trusted_root()  # loads offline, without TUF


def test_a_transparency_log_that_fails_a_search_once_is_asked_again(
    fake: FakeSigstore, root: TrustedRoot
) -> None:
    signed = fake.sign_blob(SUMS, GRYPE)
    fake.search_failures = [503, 502]
    with running(RekorHandler, fake) as url:
        log = RekorLog(HttpClient(requests.Session(), sleep=lambda _: None), url)
        record = verify_cosign(
            root, _subject(SUMS, "s.txt"), base64.b64encode(signed.signature), signed.pem, log, _cosign_rule()
        )
    assert (record.kind, fake.search_failures) == ("cosign-signature", [])


def test_a_transparency_log_that_keeps_failing_is_named_in_one_line(
    fake: FakeSigstore, root: TrustedRoot
) -> None:
    signed = fake.sign_blob(SUMS, GRYPE)
    fake.search_failures = [503] * 10
    with running(RekorHandler, fake) as url:
        log = RekorLog(HttpClient(requests.Session(), sleep=lambda _: None), url)
        with pytest.raises(
            UpstreamError, match=f"cannot search the transparency log at {re.escape(url)}: .*503"
        ):
            verify_cosign(
                root,
                _subject(SUMS, "s.txt"),
                base64.b64encode(signed.signature),
                signed.pem,
                log,
                _cosign_rule(),
            )
    assert len(fake.search_failures) <= 10 - 2  # asked more than once before giving up
