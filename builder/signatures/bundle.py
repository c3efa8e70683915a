"""A Sigstore bundle over a file's bytes (trivy's ``<asset>.sigstore.json``, ``cosign --bundle``).

``cosign sign-blob`` writes a message signature over the file; ``cosign attest-blob`` (and
GitHub's attest action) a DSSE envelope of an in-toto statement naming the file's digest. Which
one an upstream ships can change between releases without notice, so both are verified, each
completely: the same identity policy, log entry and proofs, and for DSSE the statement's subject.
"""

from __future__ import annotations

import json

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier

from builder.config.provenance import Requirement
from builder.locking.evidence import SigstoreBundle
from builder.signatures.attestation import check_statement
from builder.signatures.base import IdentityPolicy, Seen, Subject, guarded, read_bundle, seen


def verify_bundle(root: TrustedRoot, subject: Subject, raw: bytes, rule: Requirement) -> SigstoreBundle:
    """Chain at the log's time, SCT, inclusion proof, checkpoint, SET, then the signature and entry."""
    what = f"{subject.name}: its Sigstore bundle"
    bundle = read_bundle(raw, what)
    if _enveloped(raw):
        check_statement(
            Verifier(trusted_root=root), bundle, IdentityPolicy(rule, subject.version), subject, what
        )
        got = seen(bundle)
    else:
        got = check_message(root, subject, bundle, rule, "Sigstore bundle")
    return SigstoreBundle(subject.name, got.identity, got.issuer, got.log_index, got.integrated_time)


def _enveloped(raw: bytes) -> bool:
    """A DSSE bundle (read_bundle has already refused anything that is not a bundle)."""
    document = json.loads(raw)
    return isinstance(document, dict) and "dsseEnvelope" in document


def check_message(root: TrustedRoot, subject: Subject, bundle: Bundle, rule: Requirement, what: str) -> Seen:
    verifier = Verifier(trusted_root=root)
    policy = IdentityPolicy(rule, subject.version)
    guarded(
        f"{subject.name}: {what} refused", lambda: verifier.verify_artifact(subject.hashed(), bundle, policy)
    )
    return seen(bundle)
