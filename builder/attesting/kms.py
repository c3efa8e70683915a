"""Signing with an AWS KMS asymmetric key: the private half never leaves KMS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from builder.errors import UserError


class KmsClient(Protocol):
    """What builder asks of a boto3 KMS client (builder.plumbing.aws makes it)."""

    def sign(
        self, *, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str
    ) -> Mapping[str, object]: ...

    def get_public_key(self, *, KeyId: str) -> Mapping[str, object]: ...


def _bytes(answer: Mapping[str, object], key: str) -> bytes:
    value = answer.get(key)
    if not isinstance(value, bytes):
        raise UserError(f"KMS answered no {key}")
    return value


@dataclass(frozen=True)
class KmsSigner:
    client: KmsClient
    key_id: str  # an alias ("alias/builder-provenance"), key id or ARN
    algorithm: str = "ECDSA_SHA_256"

    def sign(self, message: bytes) -> bytes:
        try:
            answer = self.client.sign(KeyId=self.key_id, Message=message, MessageType="RAW",
                                      SigningAlgorithm=self.algorithm)  # fmt: skip
        except Exception as e:  # botocore's errors: name the key and the error, nothing else
            raise UserError(f"KMS cannot sign with {self.key_id}: {_reason(e)}") from None
        return _bytes(answer, "Signature")


def public_key(client: KmsClient, key_id: str) -> bytes:
    """The DER public half of a KMS key (GetPublicKey), for checking its signatures locally."""
    try:
        answer = client.get_public_key(KeyId=key_id)
    except Exception as e:
        raise UserError(f"KMS cannot give the public key of {key_id}: {_reason(e)} "
                        "(or pass --public-key PEM)") from None  # fmt: skip
    return _bytes(answer, "PublicKey")


def _reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)
