"""``builder verify-artifact``: check one file's Sigstore signature the way ``lock`` would.

For a person debugging a refusal; the flags are cosign ``verify-blob``'s. The trusted root is
the pinned one unless ``--trusted-root`` names another; nothing is fetched but the Rekor entry
of a detached signature (from ``--rekor-url``).
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from builder.config.provenance import Requirement
from builder.errors import BuilderError, SignatureError, UserError

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot

    from builder.locking.evidence import Evidence
    from builder.runtime import Runtime
    from builder.signatures.base import Subject

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class _Material:
    bundle: Path | None
    signature: Path | None
    certificate: Path | None
    rekor_url: str | None


@click.command(
    name="verify-artifact",
    short_help="Check one file's Sigstore signature as lock would.",
    epilog="""\b
Examples:
  builder verify-artifact trivy_0.70.0_Linux-64bit.tar.gz \\
      --bundle trivy_0.70.0_Linux-64bit.tar.gz.sigstore.json \\
      --certificate-identity https://github.com/aquasecurity/trivy/.github/workflows/reusable-release.yaml@refs/tags/v0.70.0
  builder verify-artifact sha256:3f5a... --bundle x.sigstore.json \\
      --certificate-identity-regexp 'https://github\\.com/acme/tool/\\.github/workflows/release\\.yml@.*'
  builder verify-artifact grype_0.90.0_checksums.txt --signature grype_0.90.0_checksums.txt.sig \\
      --certificate grype_0.90.0_checksums.txt.pem --rekor-url https://rekor.sigstore.dev \\
      --certificate-identity https://github.com/anchore/grype/.github/workflows/release.yaml@refs/heads/main
\b
The regular expression must match the whole identity. Exit 0 when it verifies (one line: who
signed, log index), 1 with one line saying why not.
""",
)
@click.argument("artifact", metavar="FILE")
@click.option(
    "--bundle", type=click.Path(dir_okay=False, path_type=Path), help="A Sigstore bundle (.sigstore.json)."
)
@click.option("--signature", type=click.Path(dir_okay=False, path_type=Path), help="A detached cosign .sig.")
@click.option(
    "--certificate", type=click.Path(dir_okay=False, path_type=Path), help="The .pem beside --signature."
)
@click.option("--rekor-url", help="The transparency log to find a detached signature's entry in.")
@click.option("--certificate-identity", "identity", help="The signer's exact identity (workflow URI).")
@click.option("--certificate-identity-regexp", "identity_regex", help="Or a regular expression over it.")
@click.option(
    "--certificate-oidc-issuer",
    "issuer",
    default=_ISSUER,
    show_default=True,
    help="The OIDC issuer required.",
)
@click.option(
    "--trusted-root",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Default: the root pinned in builder.",
)
def verify_artifact(
    artifact: str,
    bundle: Path | None,
    signature: Path | None,
    certificate: Path | None,
    rekor_url: str | None,
    identity: str | None,
    identity_regex: str | None,
    issuer: str,
    trusted_root: Path | None,
) -> None:
    """Verify FILE (or sha256:<hex>) against a Sigstore bundle or a detached signature and its log entry.

    A bundle holding an in-toto attestation (a GitHub artifact attestation) verifies when its
    subject carries FILE's sha256.
    """
    if bool(identity) == bool(identity_regex):
        raise click.UsageError("give one of --certificate-identity and --certificate-identity-regexp")
    rule = Requirement(
        "cli", "the command line", identity=identity or "", identity_regex=identity_regex or "", issuer=issuer
    )
    try:
        line = _check(artifact, _Material(bundle, signature, certificate, rekor_url), rule, trusted_root)
    except BuilderError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(line)


def _check(artifact: str, material: _Material, rule: Requirement, root_path: Path | None) -> str:
    """One line saying who signed, or a SignatureError saying why not."""
    from builder.signatures.trust import load_trusted_root

    subject = _subject(artifact)
    root = load_trusted_root(root_path)
    if material.bundle is not None:
        return f"verified: {_bundled(root, subject, _read(material.bundle), rule).summary()}"
    if material.signature is not None and material.certificate is not None and material.rekor_url:
        return f"verified: {_detached(root, subject, material, rule).summary()}"
    raise UserError("give --bundle, or --signature with --certificate and --rekor-url")


def _bundled(root: TrustedRoot, subject: Subject, raw: bytes, rule: Requirement) -> Evidence:
    """A message signature over the bytes, or (a DSSE envelope) an attestation naming their sha256."""
    import json

    from builder.signatures.attestation import verify_attestations
    from builder.signatures.bundle import verify_bundle

    try:
        parsed = json.loads(raw)
    except ValueError:
        raise SignatureError(f"{subject.name}: the bundle is not JSON") from None
    if isinstance(parsed, dict) and "dsseEnvelope" in parsed:
        return verify_attestations(root, subject, {"attestations": [{"bundle": parsed}]}, rule)
    return verify_bundle(root, subject, raw, rule)


def _detached(root: TrustedRoot, subject: Subject, material: _Material, rule: Requirement) -> Evidence:
    import requests

    from builder.plumbing.http import HttpClient
    from builder.signatures.cosign import verify_cosign
    from builder.signatures.rekor import RekorLog

    assert material.signature is not None and material.certificate is not None and material.rekor_url
    log = RekorLog(HttpClient(requests.Session()), material.rekor_url)
    signature, pem = _read(material.signature), _read(material.certificate)
    return verify_cosign(root, subject, signature, pem, log, rule)


def _subject(artifact: str) -> Subject:
    from builder.signatures.base import Subject

    digest = _DIGEST.match(artifact)
    if digest:
        return Subject(artifact, digest.group(1))
    path = Path(artifact)
    data = _read(path)
    return Subject(path.name, hashlib.sha256(data).hexdigest(), data=data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise SignatureError(f"{path}: cannot read it ({e.strerror})") from None


@click.command(
    name="refresh-trusted-root",
    short_help="Replace the pinned Sigstore trusted root, verified over TUF (explicitly).",
    epilog="""\b
Examples:
  builder refresh-trusted-root                         Sigstore's public-good TUF repository
  builder refresh-trusted-root --from https://tuf.mirror.example.internal
  builder refresh-trusted-root --keys-dir my-keys      the folder BUILDER_KEYS_DIR names
\b
The walk starts from the TUF root pinned beside the trusted root (sigstore/tuf_root.json in the
keys folder), follows root rotations, checks timestamp, snapshot and targets against their
signing thresholds and expiry, and takes trusted_root.json only with the signed length and
hashes. Both files are replaced atomically, only when they changed; commit the diff like any
other trust change. Any refusal leaves them byte-identical. `builder update` does the same and
carries a change into its pull request.
""",
)
@click.option(
    "--from", "url", metavar="URL",
    help="The TUF repository's base URL. Default: builder.yaml's upstreams.sigstore_tuf.",
)  # fmt: skip
@click.option(
    "--keys-dir", type=click.Path(file_okay=False, path_type=Path),
    help="The trusted-keys folder to update. Default: BUILDER_KEYS_DIR, else builder's own.",
)  # fmt: skip
@click.pass_context
def refresh_trusted_root(ctx: click.Context, url: str | None, keys_dir: Path | None) -> None:
    """Fetch Sigstore's trusted root over TUF, verify it, and replace the pinned one with it."""
    from builder.signatures.trust import refresh

    try:
        runtime = _runtime(ctx)
        repository = url or runtime.settings.upstreams["sigstore_tuf"]
        changed = refresh(repository, keys_dir or runtime.keys_dir)
    except BuilderError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo(f"the trusted root is current with {repository}", err=True)


def _runtime(ctx: click.Context) -> Runtime:
    """This project's runtime; outside any project, the embedded defaults'."""
    import os

    from builder.config.project import Project
    from builder.config.settings import Settings
    from builder.errors import ConfigError
    from builder.runtime import Runtime

    try:
        project = ctx.find_root().obj.project()
    except ConfigError:
        project = Project(Path.cwd(), Settings(), {}, {}, ())
    return Runtime(project, dict(os.environ))
