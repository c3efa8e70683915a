"""A fake Sigstore: a Fulcio-like CA, a CT log and a Rekor-like transparency log, all test keys.

It produces the same wire formats the public-good instance does (bundles v0.3, Rekor v1 log
entries, PEP 740 provenance, in-toto statements) so the real ``sigstore`` and
``pypi-attestations`` libraries verify them against :meth:`FakeSigstore.trusted_root`. Every
check sigstore makes is exercised: the certificate chain at the log's integrated time, the SCT
embedded in the certificate, the Merkle inclusion proof, the signed checkpoint and the signed
entry timestamp (SET), then the signature and the entry's consistency with the other materials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.server import StateServer

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
INTOTO = "application/vnd.in-toto+json"
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw bytes
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
_SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    return hashlib.sha256(_spki(key)).digest()


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _der_utf8(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


def _der_octets(raw: bytes) -> bytes:
    length = len(raw)
    if length < 128:
        return bytes([0x04, length]) + raw
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + raw


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, what an envelope's signature covers."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


@dataclass
class CertificateAuthority:
    """A self-signed root that issues short-lived code-signing certificates, as Fulcio does."""

    name: str = "fake-fulcio"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name)])
        public = self.key.public_key()
        self.root = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(EPOCH - timedelta(days=365))
            .not_valid_after(EPOCH + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256())
        )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(False, False, False, False, False, True, True, False, False)


def _signing_usage() -> x509.KeyUsage:
    return x509.KeyUsage(True, False, False, False, False, False, False, False, False)


@dataclass
class Entry:
    """One Rekor v1 log entry, as the log answers for it."""

    uuid: str
    body: bytes  # the canonicalized body
    index: int
    integrated_time: int
    kind: str  # "hashedrekord" or "dsse"
    artifact_sha256: str  # what a search by hash finds it under


@dataclass
class Signed:
    """What signing produced: the certificate, the signature and the log entry (if logged)."""

    certificate: x509.Certificate
    signature: bytes
    entry: Entry | None
    envelope: dict[str, object] | None = None  # DSSE, for attestations

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


class FakeSigstore:
    """Signs as a GitHub workflow would through Fulcio and Rekor, with keys made for the test."""

    def __init__(self) -> None:
        self.ca = CertificateAuthority()
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.log_key = ec.generate_private_key(ec.SECP256R1())
        self.entries: list[Entry] = []
        self.hidden: set[str] = set()  # entries the fake Rekor pretends not to have
        self.search_failures: list[int] = []  # statuses the fake Rekor answers searches with first
        self.origin = "fake-rekor.test - 1"

    # --- trust ---------------------------------------------------------------------------------

    def trusted_root(self) -> dict[str, object]:
        """The trusted root JSON naming this instance's CA, CT log and transparency log."""
        valid = {"start": (EPOCH - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [self._log("http://127.0.0.1:9/rekor", self.log_key.public_key(), valid)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": self.ca.name, "commonName": self.ca.name},
                    "uri": "http://127.0.0.1:9/fulcio",
                    "certChain": {"certificates": [{"rawBytes": _b64(self.ca.root.public_bytes(_DER))}]},
                    "validFor": valid,
                }
            ],
            "ctlogs": [self._log("http://127.0.0.1:9/ct", self.ct_key.public_key(), valid)],
            "timestampAuthorities": [],
        }

    def trusted_root_json(self) -> str:
        return json.dumps(self.trusted_root(), indent=1)

    @staticmethod
    def _log(url: str, key: ec.EllipticCurvePublicKey, valid: dict[str, str]) -> dict[str, object]:
        return {
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(_spki(key)),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid,
            },
            "logId": {"keyId": _b64(_key_id(key))},
        }

    # --- certificates --------------------------------------------------------------------------

    def certificate(
        self,
        key: ec.EllipticCurvePrivateKey,
        identity: str,
        issuer: str = GITHUB_ISSUER,
        at: datetime = EPOCH,
        ca: CertificateAuthority | None = None,
    ) -> x509.Certificate:
        """A Fulcio-like leaf: SAN URI = the workflow, issuer extensions, and an embedded SCT."""
        ca = ca or self.ca
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(ca.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - timedelta(minutes=1))
            .not_valid_after(at + timedelta(minutes=10))
            .add_extension(_signing_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True
            )
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V2, _der_utf8(issuer)), critical=False)
        )
        # The SCT signs the certificate without itself (RFC 6962's precertificate TBS), so the
        # same builder is signed once without it, and the SCT is added last.
        precert = builder.sign(ca.key, hashes.SHA256())
        sct = self._sct(precert.tbs_certificate_bytes, ca, at)
        return builder.add_extension(x509.UnrecognizedExtension(_SCT_LIST, sct), critical=False).sign(
            ca.key, hashes.SHA256()
        )

    def _sct(self, tbs: bytes, ca: CertificateAuthority, at: datetime) -> bytes:
        millis = int(at.timestamp() * 1000)
        issuer_key_hash = _key_id(ca.key.public_key())
        signed = struct.pack("!BBQH", 0, 0, millis, 1) + issuer_key_hash + len(tbs).to_bytes(3, "big") + tbs
        signed += struct.pack("!H", 0)
        signature = _sign(self.ct_key, signed)
        sct = (
            struct.pack("!B", 0)
            + _key_id(self.ct_key.public_key())
            + struct.pack("!QH", millis, 0)
            + struct.pack("!BBH", 4, 3, len(signature))
            + signature
        )
        listed = struct.pack("!H", len(sct)) + sct
        return _der_octets(struct.pack("!H", len(listed)) + listed)

    # --- signing -------------------------------------------------------------------------------

    def sign_blob(
        self,
        data: bytes,
        identity: str,
        issuer: str = GITHUB_ISSUER,
        ca: CertificateAuthority | None = None,
        logged: bool = True,
    ) -> Signed:
        """cosign sign-blob keyless: a signature over sha256(data), logged as a hashedrekord."""
        key = ec.generate_private_key(ec.SECP256R1())
        at = EPOCH + timedelta(minutes=len(self.entries))
        cert = self.certificate(key, identity, issuer, at, ca)
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        digest = hashlib.sha256(data).hexdigest()
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(_pem(cert))}},
            },
        }
        entry = self._append(body, "hashedrekord", at, digest) if logged else None
        return Signed(cert, signature, entry)

    def sign_statement(
        self,
        subjects: list[tuple[str, str]],
        predicate_type: str,
        identity: str,
        issuer: str = GITHUB_ISSUER,
    ) -> Signed:
        """An in-toto statement over (name, sha256) subjects in a DSSE envelope, logged as dsse."""
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
            "predicateType": predicate_type,
            "predicate": {},
        }
        payload = json.dumps(statement).encode()
        key = ec.generate_private_key(ec.SECP256R1())
        at = EPOCH + timedelta(minutes=len(self.entries))
        cert = self.certificate(key, identity, issuer, at)
        signature = key.sign(pae(INTOTO, payload), ec.ECDSA(hashes.SHA256()))
        envelope = {"payload": _b64(payload), "payloadType": INTOTO, "signatures": [{"sig": _b64(signature)}]}
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest(),
                },
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": [{"signature": _b64(signature), "verifier": _b64(_pem(cert))}],
            },
        }
        return Signed(cert, signature, self._append(body, "dsse", at, ""), envelope)

    def _append(self, body: dict[str, object], kind: str, at: datetime, digest: str) -> Entry:
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        entry = Entry(
            hashlib.sha256(raw).hexdigest(), raw, len(self.entries), int(at.timestamp()), kind, digest
        )
        self.entries.append(entry)
        return entry

    # --- the log's answers ---------------------------------------------------------------------

    def tlog_entry(self, entry: Entry, proof: bool = True) -> dict[str, object]:
        """The bundle form of a log entry: inclusion proof, signed checkpoint and SET."""
        size = len(self.entries)
        root = _root([_leaf(e.body) for e in self.entries])
        log_id = _key_id(self.log_key.public_key())
        data: dict[str, object] = {
            "logIndex": str(entry.index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": entry.kind, "version": "0.0.1"},
            "integratedTime": str(entry.integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": _b64(self._set(entry, log_id))},
            "canonicalizedBody": _b64(entry.body),
        }
        if proof:
            data["inclusionProof"] = {
                "logIndex": str(entry.index),
                "rootHash": _b64(root),
                "treeSize": str(size),
                "hashes": [_b64(h) for h in _path(entry.index, [_leaf(e.body) for e in self.entries])],
                "checkpoint": {"envelope": self._checkpoint(size, root, log_id)},
            }
        return data

    def rekor_entry(self, entry: Entry) -> dict[str, object]:
        """``GET /api/v1/log/entries/{uuid}``'s answer (hex where the bundle has base64)."""
        bundle = self.tlog_entry(entry)
        proof = bundle["inclusionProof"]
        assert isinstance(proof, dict)
        return {
            entry.uuid: {
                "body": _b64(entry.body),
                "integratedTime": entry.integrated_time,
                "logID": _key_id(self.log_key.public_key()).hex(),
                "logIndex": entry.index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": proof["checkpoint"]["envelope"],
                        "hashes": [base64.b64decode(h).hex() for h in proof["hashes"]],
                        "logIndex": entry.index,
                        "rootHash": base64.b64decode(proof["rootHash"]).hex(),
                        "treeSize": int(proof["treeSize"]),
                    },
                    "signedEntryTimestamp": bundle["inclusionPromise"]["signedEntryTimestamp"],  # type: ignore[index]
                },
            }
        }

    def _set(self, entry: Entry, log_id: bytes) -> bytes:
        payload = {
            "body": _b64(entry.body),
            "integratedTime": entry.integrated_time,
            "logID": log_id.hex(),
            "logIndex": entry.index,
        }
        return _sign(self.log_key, rfc8785.dumps(payload))

    def _checkpoint(self, size: int, root: bytes, log_id: bytes) -> str:
        note = f"{self.origin}\n{size}\n{_b64(root)}\n"
        signature = _sign(self.log_key, note.encode())
        return f"{note}\n\u2014 {self.origin.split()[0]} {_b64(log_id[:4] + signature)}\n"

    # --- bundles -------------------------------------------------------------------------------

    def bundle(self, signed: Signed, proof: bool = True) -> dict[str, object]:
        """A Sigstore bundle v0.3 (message signature or DSSE envelope)."""
        assert signed.entry is not None
        material = {
            "certificate": {"rawBytes": _b64(signed.certificate.public_bytes(_DER))},
            "tlogEntries": [self.tlog_entry(signed.entry, proof)],
        }
        data: dict[str, object] = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": material,
        }
        if signed.envelope is not None:
            data["dsseEnvelope"] = signed.envelope
        else:
            sha = bytes.fromhex(json.loads(signed.entry.body)["spec"]["data"]["hash"]["value"])
            data["messageSignature"] = {
                "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(sha)},
                "signature": _b64(signed.signature),
            }
        return data

    def bundle_json(self, signed: Signed, proof: bool = True) -> bytes:
        return json.dumps(self.bundle(signed, proof)).encode()


_DER = serialization.Encoding.DER


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --- RFC 6962 Merkle tree -------------------------------------------------------------------------


def _leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """The audit path of leaf ``index``, lowest level first (RFC 6962 section 2.1.1)."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_path(index, leaves[:k]), _root(leaves[k:])]
    return [*_path(index - k, leaves[k:]), _root(leaves[:k])]


PEP740_PUBLISH = "https://docs.pypi.org/attestations/publish/v1"
SLSA = "https://slsa.dev/provenance/v1"


def pep740_provenance(
    fake: FakeSigstore, filename: str, sha256: str, repository: str, workflow: str
) -> bytes:
    """The Integrity API's provenance object for one file, signed by ``repository``'s ``workflow``."""
    from pypi_attestations import Attestation
    from sigstore.models import Bundle

    identity = f"https://github.com/{repository}/.github/workflows/{workflow}@refs/tags/v1"
    signed = fake.sign_statement([(filename, sha256)], PEP740_PUBLISH, identity)
    attestation = Attestation.from_bundle(Bundle.from_json(fake.bundle_json(signed)))
    provenance = {
        "version": 1,
        "attestation_bundles": [
            {
                "publisher": {
                    "kind": "GitHub",
                    "repository": repository,
                    "workflow": workflow,
                    "environment": None,
                },
                "attestations": [json.loads(attestation.model_dump_json())],
            }
        ],
    }
    return json.dumps(provenance).encode()


def attestations_answer(fake: FakeSigstore, signed: list[Signed]) -> dict[str, object]:
    """``GET /repos/{o}/{r}/attestations/sha256:<hex>``'s answer."""
    return {"attestations": [{"bundle": fake.bundle(s), "repository_id": 1} for s in signed]}


class RekorHandler(BaseHTTPRequestHandler):
    """Rekor v1: ``POST /api/v1/index/retrieve`` by hash and ``GET /api/v1/log/entries/{uuid}``."""

    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        fake: FakeSigstore = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        wanted = str(json.loads(self.rfile.read(length) or b"{}").get("hash", "")).removeprefix("sha256:")
        if fake.search_failures:
            self._send(fake.search_failures.pop(0), {"code": 503, "message": "injected"})
            return
        found = [e.uuid for e in fake.entries if e.artifact_sha256 == wanted and e.uuid not in fake.hidden]
        self._send(200, found)

    def do_GET(self) -> None:
        fake: FakeSigstore = self.server.state
        uuid = self.path.rsplit("/", 1)[-1]
        for entry in fake.entries:
            if entry.uuid == uuid and uuid not in fake.hidden:
                self._send(200, fake.rekor_entry(entry))
                return
        self._send(404, {"code": 404, "message": "entry not found"})

    def _send(self, status: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
