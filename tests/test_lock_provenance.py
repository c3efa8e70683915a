"""`builder lock` enforcing tools.yaml's ``provenance:`` against a fake GitHub, Rekor and Sigstore.

Three tools as the shipped catalogue declares trivy, grype and tflint: a Sigstore bundle per asset,
cosign's .sig + .pem over the checksum file (its Rekor entry found by hash), and a GitHub
attestation of the checksum file. Every refusal leaves builder.lock byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.locking.evidence import CosignSignature, GitHubAttestation, SigstoreBundle
from builder.locking.lockfile import load_lockfile
from tests.fakes.github import FakeGitHub, checksum_file, serve
from tests.fakes.server import running
from tests.fakes.sigstore import SLSA, CertificateAuthority, FakeSigstore, RekorHandler, attestations_answer
from tests.helpers import run_cli

ISSUER = "https://token.actions.githubusercontent.com"
SCAN_ID = "https://github.com/acme/scan/.github/workflows/reusable-release.yaml@refs/tags/v{version}"
GRYPE_ID = "https://github.com/acme/grype/.github/workflows/release.yaml@refs/heads/main"
LINT_ID = "https://github.com/acme/lint/.github/workflows/release.yml@refs/tags/v{version}"
TOOLS = f"""\
tools:
  scan:
    source: github
    repository: acme/scan
    checksums: scan_{{version}}_checksums.txt
    install: archive
    assets: {{linux/amd64: "scan_{{version}}_amd64.tar.gz"}}
    check: {{command: [scan, --version], pattern: '(\\S+)'}}
    provenance:
      kind: sigstore-bundle
      bundle: "{{asset}}.sigstore.json"
      identity: {SCAN_ID}
      issuer: {ISSUER}
  grype:
    source: github
    repository: acme/grype
    checksums: grype_{{version}}_checksums.txt
    install: archive
    assets: {{linux/amd64: "grype_{{version}}_linux_amd64.tar.gz"}}
    check: {{command: [grype, --version], pattern: '(\\S+)'}}
    provenance:
      kind: cosign
      signed: grype_{{version}}_checksums.txt
      identity: {GRYPE_ID}
  lint:
    source: github
    repository: acme/lint
    checksums: checksums.txt
    install: binary
    assets: {{linux/amd64: lint-amd64}}
    check: {{command: [lint, --version], pattern: '(\\S+)'}}
    provenance:
      kind: github-attestation
      signed: checksums.txt
      identity_regex: 'https://github\\.com/acme/lint/\\.github/workflows/release\\.yml@.+'
"""


@dataclass
class Upstreams:
    github: FakeGitHub
    sigstore: FakeSigstore

    def scan(self, version: str, **defects: object) -> None:
        asset = f"scan_{version}_amd64.tar.gz"
        data = f"scan {version}".encode()
        identity = str(defects.get("identity", SCAN_ID.replace("{version}", version)))
        signed_bytes = data + b"!" if defects.get("other_bytes") else data
        ca = defects.get("ca")
        signed = self.sigstore.sign_blob(
            signed_bytes, identity, ca=ca if isinstance(ca, CertificateAuthority) else None
        )
        files = {asset: data, f"scan_{version}_checksums.txt": checksum_file({asset: data})}
        if not defects.get("no_bundle"):
            files[f"{asset}.sigstore.json"] = self.sigstore.bundle_json(
                signed, proof=not defects.get("no_proof")
            )
        self.github.release("acme/scan", f"v{version}", files)

    def grype(self, version: str, **defects: object) -> None:
        asset, sums_name = f"grype_{version}_linux_amd64.tar.gz", f"grype_{version}_checksums.txt"
        data = f"grype {version}".encode()
        sums = checksum_file({asset: data})
        issuer = str(defects.get("issuer", ISSUER))
        signed = self.sigstore.sign_blob(sums, GRYPE_ID, issuer, logged=not defects.get("unlogged"))
        files = {asset: data, sums_name: sums, f"{sums_name}.pem": signed.pem}
        if not defects.get("no_signature"):
            files[f"{sums_name}.sig"] = base64.b64encode(signed.signature)
        self.github.release("acme/grype", f"v{version}", files)

    def lint(self, version: str, **defects: object) -> None:
        data = f"lint {version}".encode()
        sums = checksum_file({"lint-amd64": data})
        digest = hashlib.sha256(sums).hexdigest()
        subject = "0" * 64 if defects.get("other_subject") else digest
        signed = self.sigstore.sign_statement(
            [("checksums.txt", subject)], SLSA, LINT_ID.replace("{version}", version)
        )
        self.github.release("acme/lint", f"v{version}", {"lint-amd64": data, "checksums.txt": sums})
        if not defects.get("no_attestation"):
            self.github.attestations[f"acme/lint sha256:{digest}"] = attestations_answer(
                self.sigstore, [signed]
            )


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    sigstore = FakeSigstore()
    with serve(FakeGitHub()) as github:
        found = Upstreams(github, sigstore)
        found.scan("1.0.0")
        found.grype("1.0.0")
        found.lint("1.0.0")
        yield found


@pytest.fixture
def project(tmp_path: Path, upstreams: Upstreams, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    keys = tmp_path / "keys"
    (keys / "sigstore").mkdir(parents=True)
    (keys / "sigstore/trusted_root.json").write_text(upstreams.sigstore.trusted_root_json())
    monkeypatch.setenv("BUILDER_KEYS_DIR", str(keys))
    root = tmp_path / "project"
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text(
        "base: {external: debian}\nplatforms: [linux/amd64]\ntools: [scan, grype, lint]\n"
    )
    (root / "tools.yaml").write_text(TOOLS)
    with running(RekorHandler, upstreams.sigstore) as rekor:
        (root / "builder.yaml").write_text(
            "base_images: {debian: {ref: 'x:1'}}\nplatforms: [linux/amd64]\n"
            f"upstreams: {{github_api: '{upstreams.github.url}', github_downloads: '{upstreams.github.download_url}', rekor: '{rekor}'}}\n"
        )
        yield root


def test_lock_records_each_signature_and_checks_clean(project: Path) -> None:
    result = run_cli(project, "lock")
    assert result.exit_code == 0, result.output
    lock = load_lockfile(project)
    kinds = {
        name: {type(r) for a in lock.tools[name].payload.files.values() for r in a.evidence}  # type: ignore[attr-defined]
        for name in ("scan", "grype", "lint")
    }
    assert (
        SigstoreBundle in kinds["scan"]
        and CosignSignature in kinds["grype"]
        and GitHubAttestation in kinds["lint"]
    )
    (scan,) = [
        r
        for a in lock.tools["scan"].payload.files.values()
        for r in a.evidence
        if isinstance(r, SigstoreBundle)
    ]  # type: ignore[attr-defined]
    assert (scan.signed, scan.identity, scan.issuer) == (
        "scan_1.0.0_amd64.tar.gz",
        SCAN_ID.replace("{version}", "1.0.0"),
        ISSUER,
    )
    text = (project / "builder.lock").read_text()
    assert "kind: cosign-signature" in text and "kind: github-attestation" in text
    assert run_cli(project, "lock", "--check").exit_code == 0  # the records read back


Publish = Callable[[Upstreams], None]
REFUSALS: list[tuple[str, Publish, str]] = [
    ("wrong-identity", lambda u: u.scan("1.1.0", identity="https://github.com/evil/scan/.github/workflows/r.yaml@refs/tags/v1.1.0"), "error: scan: scan_1.1.0_amd64.tar.gz: Sigstore bundle refused: signed by https://github.com/evil/"),
    ("bundle-for-other-bytes", lambda u: u.scan("1.1.0", other_bytes=True), "Sigstore bundle refused"),
    ("other-ca", lambda u: u.scan("1.1.0", ca=CertificateAuthority("rogue")), "certificate chain"),
    ("no-inclusion-proof", lambda u: u.scan("1.1.0", no_proof=True), "inclusionProof: Field required"),
    ("bundle-missing", lambda u: u.scan("1.1.0", no_bundle=True), "error: scan: release 1.1.0 has no scan_1.1.0_amd64.tar.gz.sigstore.json, which tools.yaml (tools.yaml:"),
    ("wrong-issuer", lambda u: u.grype("1.1.0", issuer="https://accounts.example.test"), "issued by https://accounts.example.test"),
    ("no-log-entry", lambda u: u.grype("1.1.0", unlogged=True), "the transparency log has no entry for sha256"),
    ("signature-missing", lambda u: u.grype("1.1.0", no_signature=True), "error: grype: release 1.1.0 has no grype_1.1.0_checksums.txt.sig, which tools.yaml"),
    ("attestation-subject-differs", lambda u: u.lint("1.1.0", other_subject=True), "is signed but its subject is not sha256"),
    ("attestation-missing", lambda u: u.lint("1.1.0", no_attestation=True), "GitHub lists no attestation for sha256"),
]  # fmt: skip


@pytest.mark.parametrize(("publish", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_refused_signature_fails_the_tool_and_leaves_the_lock_byte_identical(
    project: Path, upstreams: Upstreams, publish: Publish, reason: str
) -> None:
    assert run_cli(project, "lock").exit_code == 0
    before = (project / "builder.lock").read_bytes()
    publish(upstreams)
    result = run_cli(project, "lock", "--upgrade")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert any(reason in line for line in errors), result.output
    assert "builder.lock left unchanged: 1 tool(s) failed" in result.output
    assert (project / "builder.lock").read_bytes() == before
