"""Provenance: SLSA v1 in an in-toto statement, signed by KMS (moto) in DSSE, and what verify-image refuses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from builder.attesting import LOCK_LABEL, SBOM_LABEL
from builder.attesting.dsse import PAYLOAD_TYPE, pae, read_envelope, sign
from builder.attesting.kms import KmsSigner, public_key
from builder.attesting.provenance import BuildFacts, BuiltImage, statement, verify_image
from builder.building.build_context import image_sbom, sbom_subject
from builder.building.render import plan_images
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.errors import UserError
from builder.locking.lockfile import load_lockfile
from tests.conftest import REPO
from tests.helpers import edit, line_of, run_cli

AMD64 = Platform("linux", "amd64")
IMAGE = "container-scanners"


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("kms", region_name="eu-west-1")


def signing_key(kms: Any, alias: str) -> str:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    return alias


def built(sbom: bytes, lock_digest: str, image_id: str = "sha256:" + "a" * 64, **labels: str) -> BuiltImage:
    found = {SBOM_LABEL: hashlib.sha256(sbom).hexdigest(), LOCK_LABEL: f"sha256:{lock_digest}", **labels}
    return BuiltImage(f"builder/{IMAGE}:tag-amd64", image_id, (), found)


def signed(kms: Any, key: str, image: BuiltImage) -> tuple[bytes, bytes]:
    """The envelope over ``image``'s statement, and the SBOM it was built with."""
    project = load_project(REPO)
    plan = plan_images(project, load_lockfile(REPO))[IMAGE]
    sbom = image_sbom(project, plan, (AMD64,), baked=True)
    facts = BuildFacts(b"FROM base\n", "builder/base:x-amd64", "b" * 64, "0.1.0", "urn:builder:local")
    body = statement(image, sbom_subject(project, plan, (AMD64,)), facts)
    return sign(body, KmsSigner(kms, key)).to_json(), sbom


def the_sbom_and_lock() -> tuple[bytes, str]:
    project = load_project(REPO)
    plan = plan_images(project, load_lockfile(REPO))[IMAGE]
    return image_sbom(project, plan, (AMD64,), baked=True), plan.lock_digest


def test_a_kms_signed_provenance_verifies_and_names_every_dependency(kms: Any) -> None:
    key = signing_key(kms, "alias/builder-provenance")
    sbom, lock_digest = the_sbom_and_lock()
    image = built(sbom, lock_digest)
    data, _ = signed(kms, key, image)
    envelope = read_envelope(data, "test")
    assert envelope.payload_type == PAYLOAD_TYPE
    # KMS itself agrees the signature is over DSSE's PAE of the statement.
    answer = kms.verify(KeyId=key, Message=pae(envelope.payload_type, envelope.payload), MessageType="RAW",
                        Signature=envelope.signatures[0][1], SigningAlgorithm="ECDSA_SHA_256")  # fmt: skip
    assert answer["SignatureValid"]
    verdict = verify_image(envelope, public_key(kms, key), key, image, sbom)
    assert verdict.lock_digest == f"sha256:{lock_digest}"
    body = json.loads(envelope.payload)
    assert body["_type"] == "https://in-toto.io/Statement/v1"
    assert body["predicateType"] == "https://slsa.dev/provenance/v1"
    assert body["subject"] == [{"name": image.ref, "digest": {"sha256": "a" * 64}}]
    deps = body["predicate"]["buildDefinition"]["resolvedDependencies"]
    names = {d["name"] for d in deps}
    assert {"Dockerfile", "builder.lock", "builder", "base image"} <= names
    lock = load_lockfile(REPO)
    for tool in ("grype", "trivy"):
        sha = lock.tools[tool].payload.files[AMD64].sha256
        assert any(d.get("digest") == {"sha256": sha} for d in deps), tool
    assert next(d for d in deps if d["name"] == "builder.lock")["digest"] == {"sha256": lock_digest}


def test_signed_by_one_key_and_checked_with_another_is_refused(kms: Any) -> None:
    key, other = signing_key(kms, "alias/one"), signing_key(kms, "alias/other")
    sbom, lock_digest = the_sbom_and_lock()
    image = built(sbom, lock_digest)
    data, _ = signed(kms, key, image)
    with pytest.raises(UserError, match="is not signed by alias/other"):
        verify_image(read_envelope(data, "test"), public_key(kms, other), other, image, sbom)


def test_an_altered_statement_is_refused(kms: Any) -> None:
    key = signing_key(kms, "alias/one")
    sbom, lock_digest = the_sbom_and_lock()
    image = built(sbom, lock_digest)
    data, _ = signed(kms, key, image)
    envelope = read_envelope(data, "test")
    forged = type(envelope)(
        envelope.payload_type, envelope.payload.replace(b"a" * 64, b"c" * 64), envelope.signatures
    )
    with pytest.raises(UserError, match="altered"):
        verify_image(forged, public_key(kms, key), key, built(sbom, lock_digest, "sha256:" + "c" * 64), sbom)


def test_an_image_whose_label_does_not_match_its_sbom_is_refused(kms: Any) -> None:
    key = signing_key(kms, "alias/one")
    sbom, lock_digest = the_sbom_and_lock()
    image = built(sbom, lock_digest, **{SBOM_LABEL: "0" * 64})
    data, _ = signed(kms, key, image)
    with pytest.raises(UserError, match=r"its label org\.builder\.sbom\.sha256 says 0000"):
        verify_image(read_envelope(data, "test"), public_key(kms, key), key, image, sbom)


def test_another_image_or_another_lock_digest_is_refused(kms: Any) -> None:
    key = signing_key(kms, "alias/one")
    sbom, lock_digest = the_sbom_and_lock()
    data, _ = signed(kms, key, built(sbom, lock_digest))
    envelope, pub = read_envelope(data, "test"), public_key(kms, key)
    with pytest.raises(UserError, match="the image was changed or is another one"):
        verify_image(envelope, pub, key, built(sbom, lock_digest, "sha256:" + "d" * 64), sbom)
    with pytest.raises(UserError, match="the lock digests disagree"):
        verify_image(envelope, pub, key, built(sbom, lock_digest, **{LOCK_LABEL: "sha256:" + "e" * 64}), sbom)


def test_a_bad_kms_key_in_builder_yaml_names_its_line(repo_project: Path) -> None:
    settings = repo_project / "builder.yaml"
    settings.write_text(settings.read_text() + "provenance:\n  kms_key: 'not a key'\n")
    result = run_cli(repo_project, "verify-image", "x:y")
    assert result.exit_code == 2
    assert f"builder.yaml:{line_of(settings, 'kms_key')}:" in result.output and "not a key" in result.output
    edit(settings, "'not a key'", "alias/ok\n  algorithm: MD5")
    result = run_cli(repo_project, "verify-image", "x:y")
    assert result.exit_code == 2 and "unknown signing algorithm 'MD5'" in result.output


def test_provenance_without_a_key_says_where_to_name_one(repo_project: Path) -> None:
    result = run_cli(repo_project, "provenance", "container-scanners", "--platform", "linux/amd64")
    assert result.exit_code == 1
    assert "no signing key: set provenance.kms_key in builder.yaml (alias/...) or pass --key" in result.output
