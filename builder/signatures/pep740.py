"""PEP 740 attestations: the index's provenance object for a distribution file.

pypi-attestations reads the provenance and turns each attestation back into a Sigstore bundle;
sigstore verifies it against our trusted root (pypi-attestations' own ``verify`` would fetch
the public-good root over TUF). The statement must have one subject, named as the file and
carrying its sha256, and a predicate type PEP 740 knows.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from pypi_attestations import Attestation, AttestationType, Provenance
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier

from builder.config.provenance import Requirement
from builder.errors import SignatureError
from builder.locking.evidence import Pep740Attestation
from builder.signatures.attestation import INTOTO
from builder.signatures.base import IdentityPolicy, Subject, guarded, seen


def verify_pep740(root: TrustedRoot, subject: Subject, raw: bytes, rule: Requirement) -> Pep740Attestation:
    try:
        provenance = Provenance.model_validate_json(raw)
    except ValidationError:
        raise SignatureError(f"{subject.name}: its provenance is not a PEP 740 provenance object") from None
    attestations = [a for b in provenance.attestation_bundles for a in b.attestations]
    if not attestations:
        raise SignatureError(f"{subject.name}: its provenance holds no attestation")
    problems = []
    for attestation in attestations:
        try:
            return _one(root, subject, attestation, rule)
        except SignatureError as e:
            problems.append(str(e))
    raise SignatureError(problems[0])


def _one(
    root: TrustedRoot, subject: Subject, attestation: Attestation, rule: Requirement
) -> Pep740Attestation:
    what = f"{subject.name}: its PEP 740 attestation"
    bundle = guarded(what, attestation.to_bundle)
    verifier = Verifier(trusted_root=root)
    kind, payload = guarded(
        f"{what} refused", lambda: verifier.verify_dsse(bundle, IdentityPolicy(rule, subject.version))
    )
    if kind != INTOTO:
        raise SignatureError(f"{what} holds {kind}, not an in-toto statement")
    _check_statement(what, subject, payload)
    got = seen(bundle)
    return Pep740Attestation(subject.name, got.identity, got.issuer, got.log_index, got.integrated_time)


def _check_statement(what: str, subject: Subject, payload: bytes) -> None:
    statement = guarded(what, lambda: json.loads(payload))
    subjects = statement.get("subject") or [] if isinstance(statement, dict) else []
    if len(subjects) != 1:
        raise SignatureError(f"{what} names {len(subjects)} subjects (PEP 740 allows one)")
    one = subjects[0]
    if one.get("name") != subject.name:
        raise SignatureError(f"{what} is for {one.get('name')}, not {subject.name}")
    if (one.get("digest") or {}).get("sha256") != subject.sha256:
        raise SignatureError(f"{what} is signed but its subject is not sha256 {subject.sha256}")
    try:
        AttestationType(statement.get("predicateType"))
    except ValueError:
        raise SignatureError(
            f"{what} has an unknown predicate type {statement.get('predicateType')}"
        ) from None
