"""cosign's detached keyless signature: ``<file>.sig`` + ``<file>.pem``, completed from the log.

A ``.sig`` and ``.pem`` alone prove only that someone holding the certificate's key signed the
bytes: nothing shows that the certificate was logged, or when, so a short-lived Fulcio
certificate could not be checked at its time and an unlogged signature could not be told apart.
So the Rekor entry is looked up by the file's sha256 and made into a bundle with them; the
bundle's every check then applies (chain at the integrated time, SCT, inclusion proof,
checkpoint, SET, the signature, and the entry naming this very signature, certificate and hash).
Without an entry nothing is accepted.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sigstore.models import TrustedRoot

from builder.config.provenance import Requirement
from builder.errors import SignatureError
from builder.locking.evidence import CosignSignature
from builder.signatures.base import Subject, guarded, read_bundle
from builder.signatures.bundle import check_message
from builder.signatures.rekor import RekorLog

_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def verify_cosign(
    root: TrustedRoot, subject: Subject, signature: bytes, pem: bytes, log: RekorLog, rule: Requirement
) -> CosignSignature:
    cert = guarded(f"{subject.name}.pem", lambda: x509.load_pem_x509_certificate(_pem(pem)))
    sig = _signature(subject, signature)
    entries = log.entries_for(subject.sha256)
    if not entries:
        raise SignatureError(f"{subject.name}: the transparency log has no entry for sha256 {subject.sha256}")
    problems = []
    for entry in entries:
        raw = json.dumps(_as_bundle(cert, sig, entry)).encode()
        try:
            got = check_message(root, subject, read_bundle(raw, subject.name), rule, "cosign signature")
        except SignatureError as e:
            problems.append(str(e))
            continue
        return CosignSignature(subject.name, got.identity, got.issuer, got.log_index, got.integrated_time)
    raise SignatureError(problems[0])


def _pem(data: bytes) -> bytes:
    """cosign writes the certificate as PEM, sometimes base64-encoded once more."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return data
    return base64.b64decode(data, validate=False)


def _signature(subject: Subject, data: bytes) -> bytes:
    try:
        return base64.b64decode(data.strip(), validate=True)
    except ValueError:
        raise SignatureError(f"{subject.name}.sig: not a base64 signature") from None


def _as_bundle(cert: x509.Certificate, signature: bytes, entry: dict[str, Any]) -> dict[str, object]:
    """A bundle from the parts and a Rekor v1 ``/api/v1/log/entries`` answer (hex -> base64)."""
    proof = entry["verification"]["inclusionProof"]
    body = json.loads(base64.b64decode(entry["body"]))
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "mediaType": _BUNDLE,
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(der)},
            "tlogEntries": [
                {
                    "logIndex": str(entry["logIndex"]),
                    "logId": {"keyId": _b64(bytes.fromhex(entry["logID"]))},
                    "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
                    "integratedTime": str(entry["integratedTime"]),
                    "inclusionPromise": {
                        "signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]
                    },
                    "inclusionProof": {
                        "logIndex": str(proof["logIndex"]),
                        "rootHash": _b64(bytes.fromhex(proof["rootHash"])),
                        "treeSize": str(proof["treeSize"]),
                        "hashes": [_b64(bytes.fromhex(h)) for h in proof["hashes"]],
                        "checkpoint": {"envelope": proof["checkpoint"]},
                    },
                    "canonicalizedBody": entry["body"],
                }
            ],
        },
        "messageSignature": {"signature": _b64(signature)},
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
