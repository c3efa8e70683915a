"""DSSE envelopes, in-toto's signature wrapper: what is signed is PAE(type, body), not re-serialized JSON.

Keys are AWS KMS asymmetric keys (ECC_NIST_P256 with ECDSA_SHA_256, or RSA with
RSASSA_PKCS1_V1_5_SHA_256); a signature is checked locally with the key's public half, so a
verifier needs no AWS access when it holds the PEM.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from builder.errors import UserError

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]  # (keyid, signature)

    def to_json(self) -> bytes:
        data = {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": [{"keyid": k, "sig": base64.b64encode(s).decode()} for k, s in self.signatures],
        }
        return (json.dumps(data, indent=2) + "\n").encode()


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(body), body)


def sign(payload: bytes, signer: Signer, payload_type: str = PAYLOAD_TYPE) -> Envelope:
    return Envelope(payload_type, payload, ((signer.key_id, signer.sign(pae(payload_type, payload))),))


def read_envelope(data: bytes, where: str) -> Envelope:
    try:
        found = json.loads(data)
        signatures = tuple((str(s.get("keyid", "")), base64.b64decode(s["sig"], validate=True))
                           for s in found["signatures"])  # fmt: skip
        return Envelope(
            str(found["payloadType"]), base64.b64decode(found["payload"], validate=True), signatures
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{where}: not a DSSE envelope ({type(e).__name__}: {e})") from None


def load_public_key(data: bytes, where: str) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """A PEM, or the DER SubjectPublicKeyInfo KMS GetPublicKey answers."""
    try:
        key = (serialization.load_pem_public_key(data) if data.lstrip().startswith(b"-----")
               else serialization.load_der_public_key(data))  # fmt: skip
    except ValueError as e:
        raise UserError(f"{where}: not a public key ({e})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UserError(f"{where}: a {type(key).__name__}; expected an ECDSA P-256 or RSA key")
    return key


def verified(envelope: Envelope, key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bool:
    """Whether any signature of the envelope verifies with ``key``."""
    message = pae(envelope.payload_type, envelope.payload)
    for _, signature in envelope.signatures:
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            else:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            continue
    return False


__all__ = ["pae"]  # what is signed, by the spec: the tests check KMS agrees it signed exactly that
