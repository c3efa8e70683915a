"""``builder verify-artifact`` through the CLI, against a fake Sigstore's trusted root."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli.main import main
from tests.fakes.server import running
from tests.fakes.sigstore import SLSA, CertificateAuthority, FakeSigstore, RekorHandler

WORKFLOW = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1.0.0"
DATA = b"tool 1.0.0 for linux amd64"


@pytest.fixture
def fake() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture
def files(fake: FakeSigstore, tmp_path: Path) -> Path:
    (tmp_path / "root.json").write_text(fake.trusted_root_json())
    (tmp_path / "tool.tar.gz").write_bytes(DATA)
    return tmp_path


def _run(files: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["verify-artifact", *args, "--trusted-root", str(files / "root.json")], catch_exceptions=False
    )
    return result.exit_code, result.output.strip()


def _bundle(fake: FakeSigstore, files: Path, data: bytes = DATA, **kw: object) -> str:
    proof = bool(kw.pop("proof", True))
    signed = fake.sign_blob(data, str(kw.pop("identity", WORKFLOW)), **kw)  # type: ignore[arg-type]
    path = files / "tool.tar.gz.sigstore.json"
    path.write_bytes(fake.bundle_json(signed, proof=proof))
    return str(path)


def test_a_signed_file_verifies(fake: FakeSigstore, files: Path) -> None:
    bundle = _bundle(fake, files)
    code, out = _run(
        files, str(files / "tool.tar.gz"), "--bundle", bundle, "--certificate-identity", WORKFLOW
    )
    assert (code, out) == (0, f"verified: tool.tar.gz signed by {WORKFLOW} (Sigstore bundle, log index 0)")


def test_a_digest_verifies_like_the_file(fake: FakeSigstore, files: Path) -> None:
    bundle = _bundle(fake, files)
    digest = f"sha256:{hashlib.sha256(DATA).hexdigest()}"
    code, out = _run(
        files,
        digest,
        "--bundle",
        bundle,
        "--certificate-identity-regexp",
        r"https://github\.com/acme/tool/.*",
    )
    assert code == 0, out


@pytest.mark.parametrize(
    ("signing", "flags", "reason"),
    [
        (
            {"identity": "https://github.com/evil/tool/.github/workflows/release.yml@refs/tags/v1.0.0"},
            [],
            "signed by",
        ),
        ({"issuer": "https://issuer.example.test"}, [], "issued by https://issuer.example.test"),
        ({}, ["--certificate-oidc-issuer", "https://other.example.test"], "not https://other.example.test"),
        ({"data": b"other bytes"}, [], "Sigstore bundle refused"),
        ({"ca": CertificateAuthority("rogue")}, [], "certificate chain"),
        ({"proof": False}, [], "inclusionProof: Field required"),
    ],
    ids=[
        "wrong-identity",
        "wrong-issuer",
        "issuer-required",
        "other-bytes",
        "other-ca",
        "no-inclusion-proof",
    ],
)
def test_refusals_are_one_line_and_exit_1(
    fake: FakeSigstore, files: Path, signing: dict[str, object], flags: list[str], reason: str
) -> None:
    bundle = _bundle(fake, files, **signing)  # type: ignore[arg-type]
    code, out = _run(
        files, str(files / "tool.tar.gz"), "--bundle", bundle, "--certificate-identity", WORKFLOW, *flags
    )
    assert code == 1
    assert out.startswith("error: tool.tar.gz: ") and reason in out and "\n" not in out, out


def test_a_detached_signature_verifies_through_its_log_entry(fake: FakeSigstore, files: Path) -> None:
    signed = fake.sign_blob(DATA, WORKFLOW)
    (files / "s.sig").write_bytes(base64.b64encode(signed.signature))
    (files / "s.pem").write_bytes(signed.pem)
    with running(RekorHandler, fake) as rekor:
        args = [
            "--signature",
            str(files / "s.sig"),
            "--certificate",
            str(files / "s.pem"),
            "--rekor-url",
            rekor,
        ]
        code, out = _run(files, str(files / "tool.tar.gz"), *args, "--certificate-identity", WORKFLOW)
        assert (code, out.split(" (")[1]) == (0, "cosign signature and its Rekor entry, log index 0)")
        fake.hidden.add(fake.entries[0].uuid)
        code, out = _run(files, str(files / "tool.tar.gz"), *args, "--certificate-identity", WORKFLOW)
    assert (code, out) == (
        1,
        f"error: tool.tar.gz: the transparency log has no entry for sha256 {hashlib.sha256(DATA).hexdigest()}",
    )


def test_without_material_it_says_what_to_give(files: Path) -> None:
    code, out = _run(files, str(files / "tool.tar.gz"), "--certificate-identity", WORKFLOW)
    assert (code, out) == (1, "error: give --bundle, or --signature with --certificate and --rekor-url")


def test_an_attestation_bundle_verifies_only_for_its_subject(fake: FakeSigstore, files: Path) -> None:
    digest = hashlib.sha256(DATA).hexdigest()
    for subject, name in ((digest, "good.json"), ("0" * 64, "other.json")):
        signed = fake.sign_statement([("tool.tar.gz", subject)], SLSA, WORKFLOW)
        (files / name).write_bytes(fake.bundle_json(signed))
    flags = ["--certificate-identity", WORKFLOW]
    code, out = _run(files, str(files / "tool.tar.gz"), "--bundle", str(files / "good.json"), *flags)
    assert (code, out) == (
        0,
        f"verified: tool.tar.gz signed by {WORKFLOW} (GitHub artifact attestation, log index 0)",
    )
    code, out = _run(files, str(files / "tool.tar.gz"), "--bundle", str(files / "other.json"), *flags)
    assert (code, out) == (
        1,
        f"error: tool.tar.gz: its attestation is signed but its subject is not sha256 {digest}",
    )


def test_a_missing_signature_file_is_one_line(files: Path) -> None:
    args = [
        "--signature",
        str(files / "absent.sig"),
        "--certificate",
        str(files / "absent.pem"),
        "--rekor-url",
        "http://127.0.0.1:9",
    ]
    code, out = _run(files, str(files / "tool.tar.gz"), *args, "--certificate-identity", WORKFLOW)
    assert (code, out) == (1, f"error: {files / 'absent.sig'}: cannot read it (No such file or directory)")
