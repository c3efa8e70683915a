"""What every verifier shares: the subject, the identity policy, reading what a certificate says."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from pydantic import ValidationError
from sigstore.errors import Error as SigstoreError
from sigstore.errors import VerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore_models.common.v1 import HashAlgorithm

from builder.config.provenance import Requirement
from builder.errors import SignatureError

_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw bytes (deprecated, still issued)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Subject:
    """The file a signature must cover: its name, its sha256 and, when at hand, its bytes."""

    name: str
    sha256: str
    version: str = ""  # fills {version} in the required identity
    data: bytes | None = None

    def hashed(self) -> bytes | Hashed:
        """What sigstore checks a message signature against (the digest alone will do)."""
        if self.data is not None:
            return self.data
        return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(self.sha256))


@dataclass(frozen=True)
class Seen:
    """What the verified certificate and log entry said."""

    identity: str
    issuer: str
    log_index: int
    integrated_time: int


class IdentityPolicy:
    """sigstore's VerificationPolicy for a Requirement: the SAN and the OIDC issuer, exactly or by regex."""

    def __init__(self, rule: Requirement, version: str) -> None:
        self.rule, self.version = rule, version

    def verify(self, cert: x509.Certificate) -> None:
        identity, issuer = _identity_of(cert), _issuer_of(cert)
        if issuer != self.rule.issuer:
            raise VerificationError(f"issued by {issuer or 'no issuer'}, not {self.rule.issuer}")
        if not self.rule.accepts(identity, self.version):
            raise VerificationError(
                f"signed by {identity or 'no identity'}, not {self.rule.wanted(self.version)}"
            )


def _identity_of(cert: x509.Certificate) -> str:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    found = sans.get_values_for_type(x509.UniformResourceIdentifier) + sans.get_values_for_type(
        x509.RFC822Name
    )
    return found[0] if found else ""


def _issuer_of(cert: x509.Certificate) -> str:
    for oid in (_ISSUER_V2, _ISSUER_V1):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        return _utf8(raw) if oid == _ISSUER_V2 else raw.decode(errors="replace")
    return ""


def _utf8(der: bytes) -> str:
    """A short DER UTF8String (tag 0x0C, one length byte), as Fulcio writes the issuer."""
    if len(der) >= 2 and der[0] == 0x0C and der[1] == len(der) - 2:
        return der[2:].decode(errors="replace")
    return ""


def read_bundle(raw: bytes, what: str) -> Bundle:
    return guarded(what, lambda: Bundle.from_json(raw))


def seen(bundle: Bundle) -> Seen:
    """The identity, issuer and log position of a bundle sigstore has verified."""
    entry = json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"][0]
    cert = bundle.signing_certificate
    return Seen(
        _identity_of(cert), _issuer_of(cert), int(entry["logIndex"]), int(entry.get("integratedTime", 0))
    )


def guarded(what: str, check: Callable[[], _T]) -> _T:
    """Run a sigstore call; its refusal becomes one line naming what was checked."""
    try:
        return check()
    except (SigstoreError, ValidationError, ValueError, KeyError, TypeError) as e:
        raise SignatureError(f"{what}: {_first_line(e)}") from None


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return f"malformed ({error.error_count()} problems, first: {error.errors()[0]['msg']})"
    lines = [line.strip() for line in str(error).strip().splitlines()]
    if len(lines) >= 3 and "validation error" in lines[0]:
        # pydantic's shape: a count, the field's path, then what is wrong with it
        return f"{lines[0].split(':')[0]}: {lines[1]}: {lines[2].split(' [')[0]}"
    return lines[0] if lines else type(error).__name__
