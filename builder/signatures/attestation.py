"""GitHub artifact attestations: ``GET /repos/{owner}/{repo}/attestations/sha256:<digest>``.

The answer lists Sigstore bundles holding DSSE envelopes of in-toto statements. One of them must
verify (certificate, log entry, envelope signature) with the required identity, and its
statement must name the file's sha256 among its subjects: the lookup key alone proves nothing,
since the answer is the API's, not the signer's.
"""

from __future__ import annotations

import json
from typing import Any

from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier

from builder.config.provenance import Requirement
from builder.errors import SignatureError
from builder.locking.evidence import GitHubAttestation
from builder.signatures.base import IdentityPolicy, Subject, guarded, read_bundle, seen

INTOTO = "application/vnd.in-toto+json"
_MAX_BUNDLES = 16


def verify_attestations(
    root: TrustedRoot, subject: Subject, answer: Any, rule: Requirement
) -> GitHubAttestation:
    bundles = _bundles(answer)
    if not bundles:
        raise SignatureError(f"{subject.name}: GitHub lists no attestation for sha256 {subject.sha256}")
    problems = []
    for raw in bundles[:_MAX_BUNDLES]:
        try:
            return _one(root, subject, raw, rule)
        except SignatureError as e:
            problems.append(str(e))
    raise SignatureError(problems[0])


def _one(root: TrustedRoot, subject: Subject, raw: bytes, rule: Requirement) -> GitHubAttestation:
    what = f"{subject.name}: its attestation"
    bundle = read_bundle(raw, what)
    verifier = Verifier(trusted_root=root)
    policy = IdentityPolicy(rule, subject.version)
    check_statement(verifier, bundle, policy, subject, what)
    got = seen(bundle)
    return GitHubAttestation(subject.name, got.identity, got.issuer, got.log_index, got.integrated_time)


def check_statement(
    verifier: Verifier, bundle: Bundle, policy: IdentityPolicy, subject: Subject, what: str
) -> None:
    """The bundle's DSSE envelope verifies and holds an in-toto statement naming the file's sha256."""
    kind, payload = guarded(f"{what} refused", lambda: verifier.verify_dsse(bundle, policy))
    if kind != INTOTO:
        raise SignatureError(f"{what} holds {kind}, not an in-toto statement")
    if subject.sha256 not in _statement_digests(payload):
        raise SignatureError(f"{what} is signed but its subject is not sha256 {subject.sha256}")


def _statement_digests(payload: bytes) -> set[str]:
    """The sha256 digests an in-toto statement's subjects carry."""
    try:
        statement = json.loads(payload)
    except ValueError:
        return set()
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    found = set()
    for item in subjects if isinstance(subjects, list) else []:
        digest = item.get("digest") if isinstance(item, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            found.add(digest["sha256"].lower())
    return found


def _bundles(answer: Any) -> list[bytes]:
    listed = answer.get("attestations") if isinstance(answer, dict) else None
    items = listed if isinstance(listed, list) else []
    return [
        json.dumps(item["bundle"]).encode()
        for item in items
        if isinstance(item, dict) and isinstance(item.get("bundle"), dict)
    ]
