"""A Sigstore bundle over a file's bytes (trivy's ``<asset>.sigstore.json``, ``cosign --bundle``)."""

from __future__ import annotations

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier

from builder.config.provenance import Requirement
from builder.locking.evidence import SigstoreBundle
from builder.signatures.base import IdentityPolicy, Seen, Subject, guarded, read_bundle, seen


def verify_bundle(root: TrustedRoot, subject: Subject, raw: bytes, rule: Requirement) -> SigstoreBundle:
    """Chain at the log's time, SCT, inclusion proof, checkpoint, SET, then the signature and entry."""
    bundle = read_bundle(raw, f"{subject.name}: its Sigstore bundle")
    got = check_message(root, subject, bundle, rule, "Sigstore bundle")
    return SigstoreBundle(subject.name, got.identity, got.issuer, got.log_index, got.integrated_time)


def check_message(root: TrustedRoot, subject: Subject, bundle: Bundle, rule: Requirement, what: str) -> Seen:
    verifier = Verifier(trusted_root=root)
    policy = IdentityPolicy(rule, subject.version)
    guarded(
        f"{subject.name}: {what} refused", lambda: verifier.verify_artifact(subject.hashed(), bundle, policy)
    )
    return seen(bundle)
