"""Verification evidence as data: how each locked digest was established, one typed record each.

A source that pins a file says what it checked as records, never as prose: the pull request's
"verified" column, `builder lock`'s report and (next) continuity between versions read the
records. Each kind of record has a name (its ``kind:`` in builder.lock), a fixed set of keys and a
short sentence for people. ``Recorded`` holds the free text of a schema 1 lock, kept only until
the tool is locked again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from builder.config import names
from builder.config.document import Node

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")


@dataclass(frozen=True)
class Signer:
    """Who vouched for the bytes, as continuity compares it between two versions of a tool."""

    scheme: str  # "openpgp", "sigstore", "github-attestation", "pep740"
    identity: str  # an OpenPGP fingerprint, a certificate's identity (workflow URI)
    issuer: str = ""  # the OIDC issuer of a keyless certificate


class Evidence(Protocol):
    kind: ClassVar[str]

    def to_data(self) -> dict[str, object]: ...

    def signer(self) -> Signer | None:
        """The signing identity this record proves, or None for a digest-only record."""
        ...

    def summary(self) -> str:
        """What was checked, for people: "sha256 listed in checksums.txt"."""
        ...


@dataclass(frozen=True)
class ChecksumFile:
    """The digest is listed in a checksum file the release publishes (itself pinned here)."""

    kind: ClassVar[str] = "checksum-file"
    file: str
    url: str
    sha256: str

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "file": self.file, "url": self.url, "sha256": self.sha256}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"listed in {self.file}"


@dataclass(frozen=True)
class AssetDigest:
    """The digest matches the one the release API lists for the asset (GitHub's ``digest``)."""

    kind: ClassVar[str] = "asset-digest"
    api: str  # "github"

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "api": self.api}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"the {self.api} asset digest"


@dataclass(frozen=True)
class OpenPGPSignature:
    """A checksum file listing the digest carries an OpenPGP signature by a trusted key."""

    kind: ClassVar[str] = "openpgp"
    signed: str  # the checksum file's name
    fingerprint: str  # the signer's primary key, 40 or 64 uppercase hex digits

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "signed": self.signed, "fingerprint": self.fingerprint}

    def signer(self) -> Signer | None:
        return Signer("openpgp", self.fingerprint)

    def summary(self) -> str:
        return f"{self.signed} signed by OpenPGP key {self.fingerprint}"


@dataclass(frozen=True)
class IndexHash:
    """Each file's sha256 is the one the package index lists, as a resolver recorded it."""

    kind: ClassVar[str] = "index-hash"
    resolver: str  # "uv 0.9.5"
    target: str  # "CPython 3.11, manylinux 2.36"
    index: str  # "the configured pip index": described, never its URL (which may hold a token)

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "resolver": self.resolver, "target": self.target, "index": self.index}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"hashes from {self.index} ({self.resolver}, {self.target})"


@dataclass(frozen=True)
class NpmIntegrity:
    """Each package's sha512 is the registry's ``dist.integrity``, as npm resolved the tree."""

    kind: ClassVar[str] = "npm-integrity"
    resolver: str  # "npm 10.9.2"

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "resolver": self.resolver}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"sha512 integrity from the registry ({self.resolver})"


@dataclass(frozen=True)
class Published:
    """The digest was taken from a published list, not yet re-checked against the upstream."""

    kind: ClassVar[str] = "published"
    source: str  # "github.com/cashapp/hermit-packages at commit f0517fd"

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "source": self.source}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"as published by {self.source}; not yet re-verified upstream"


@dataclass(frozen=True)
class Recorded:
    """What a schema 1 lock said, as text: replaced by typed records when the tool is locked again."""

    kind: ClassVar[str] = "recorded"
    text: str

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"recorded before schema 2: {self.text}"


@dataclass(frozen=True)
class _Logged:
    """A keyless Sigstore signature over ``signed``: the certificate's identity and issuer, as seen
    after the chain, SCT, inclusion proof, checkpoint and SET were checked, and where it is logged."""

    kind: ClassVar[str]
    scheme: ClassVar[str] = "sigstore"
    how: ClassVar[str]
    signed: str  # the file whose bytes (or in-toto subject) the signature covers
    identity: str  # the certificate's SAN: the workflow that signed
    issuer: str  # the OIDC issuer in the certificate
    log_index: int
    integrated_time: int  # seconds since the epoch, as the log recorded it

    def to_data(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "signed": self.signed,
            "identity": self.identity,
            "issuer": self.issuer,
            "log_index": self.log_index,
            "integrated_time": self.integrated_time,
        }

    def signer(self) -> Signer | None:
        return Signer(self.scheme, self.identity, self.issuer)

    def summary(self) -> str:
        return f"{self.signed} signed by {self.identity} ({self.how}, log index {self.log_index})"


@dataclass(frozen=True)
class SigstoreBundle(_Logged):
    """A Sigstore bundle published beside the file (trivy's ``<asset>.sigstore.json``)."""

    kind: ClassVar[str] = "sigstore-bundle"
    how: ClassVar[str] = "Sigstore bundle"


@dataclass(frozen=True)
class CosignSignature(_Logged):
    """A detached ``.sig`` + ``.pem`` pair, completed by the transparency log's entry for the file's hash."""

    kind: ClassVar[str] = "cosign-signature"
    how: ClassVar[str] = "cosign signature and its Rekor entry"


@dataclass(frozen=True)
class GitHubAttestation(_Logged):
    """A GitHub artifact attestation whose in-toto subject carries the file's sha256."""

    kind: ClassVar[str] = "github-attestation"
    scheme: ClassVar[str] = "github-attestation"
    how: ClassVar[str] = "GitHub artifact attestation"


@dataclass(frozen=True)
class Pep740Attestation(_Logged):
    """A PEP 740 attestation from the index's provenance, its subject the distribution file."""

    kind: ClassVar[str] = "pep740"
    scheme: ClassVar[str] = "pep740"
    how: ClassVar[str] = "PEP 740 attestation"


@dataclass(frozen=True)
class NonePublished:
    """The catalogue says the upstream publishes no signature: recorded so that one appearing is seen."""

    kind: ClassVar[str] = "none-published"
    upstream: str  # "semgrep on PyPI"

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "upstream": self.upstream}

    def signer(self) -> Signer | None:
        return None

    def summary(self) -> str:
        return f"no signature published by {self.upstream}"


def _checksum_file(fields: dict[str, Node]) -> Evidence:
    url = fields["url"].checked(names.check_url, fields["url"].text())
    return ChecksumFile(fields["file"].name("file name"), url, read_sha256(fields["sha256"]))


def _openpgp(fields: dict[str, Node]) -> Evidence:
    fingerprint = fields["fingerprint"].text()
    if not _FINGERPRINT.match(fingerprint):
        raise fields["fingerprint"].error(
            f"malformed fingerprint '{fingerprint}' (expected 40 or 64 uppercase hex digits)"
        )
    return OpenPGPSignature(fields["signed"].name("file name"), fingerprint)


_LOGGED_KEYS = ("signed", "identity", "issuer", "log_index", "integrated_time")


def _logged(cls: type[_Logged]) -> _Reader:
    def read(fields: dict[str, Node]) -> Evidence:
        identity = fields["identity"].checked(names.check_text, fields["identity"].text())
        issuer = fields["issuer"].checked(names.check_url, fields["issuer"].text())
        return cls(
            fields["signed"].name("file name"),
            identity,
            issuer,
            _count(fields["log_index"]),
            _count(fields["integrated_time"]),
        )

    return read


def _count(node: Node) -> int:
    value = node.integer()
    if value < 0:
        raise node.error(f"expected a count of at least 0, found {value}")
    return value


_Reader = Callable[[dict[str, Node]], Evidence]
# kind -> (its keys besides "kind", all required; how to read them)
_KINDS: dict[str, tuple[tuple[str, ...], _Reader]] = {
    ChecksumFile.kind: (("file", "url", "sha256"), _checksum_file),
    AssetDigest.kind: (("api",), lambda f: AssetDigest(f["api"].name("product"))),
    OpenPGPSignature.kind: (("signed", "fingerprint"), _openpgp),
    IndexHash.kind: (
        ("resolver", "target", "index"),
        lambda f: IndexHash(*(f[k].text() for k in ("resolver", "target", "index"))),
    ),
    NpmIntegrity.kind: (("resolver",), lambda f: NpmIntegrity(f["resolver"].text())),
    Published.kind: (("source",), lambda f: Published(f["source"].text())),
    Recorded.kind: (("text",), lambda f: Recorded(f["text"].text())),
    SigstoreBundle.kind: (_LOGGED_KEYS, _logged(SigstoreBundle)),
    CosignSignature.kind: (_LOGGED_KEYS, _logged(CosignSignature)),
    GitHubAttestation.kind: (_LOGGED_KEYS, _logged(GitHubAttestation)),
    Pep740Attestation.kind: (_LOGGED_KEYS, _logged(Pep740Attestation)),
    NonePublished.kind: (("upstream",), lambda f: NonePublished(f["upstream"].text())),
}


def read_evidence(node: Node) -> tuple[Evidence, ...]:
    """A list of records; an unknown kind or key fails at its line."""
    records = tuple(_record(item) for item in node.items())
    if not records:
        raise node.error("expected at least one evidence record")
    return records


def _record(node: Node) -> Evidence:
    kind_node = node.mapping(["kind", *{k for keys, _ in _KINDS.values() for k in keys}], required=["kind"])[
        "kind"
    ]
    kind = kind_node.text()
    if kind not in _KINDS:
        raise kind_node.error(f"unknown evidence kind '{kind}' (one of: {', '.join(sorted(_KINDS))})")
    keys, read = _KINDS[kind]
    return read(node.mapping(["kind", *keys], required=["kind", *keys]))


def read_sha256(node: Node) -> str:
    """A sha256 as builder.lock writes it: 64 lowercase hex digits, else an error at its line."""
    value = node.text()
    if not _SHA256.match(value):
        raise node.error(f"malformed sha256 '{value}' (expected 64 lowercase hex digits)")
    return value


def evidence_data(records: tuple[Evidence, ...]) -> list[dict[str, object]]:
    return [record.to_data() for record in records]


def _describe(records: tuple[Evidence, ...]) -> str:
    """One sentence over several records: "listed in checksums.txt and the github asset digest"."""
    return " and ".join(record.summary() for record in records)


def verified_by(pairs: tuple[tuple[str, Evidence], ...]) -> str:
    """What every covered file was checked by, in one sentence (records some files lack are left out)."""
    groups: dict[str, list[Evidence]] = {}
    for what, record in pairs:
        groups.setdefault(what, []).append(record)
    shared = _common([tuple(g) for g in groups.values()])
    return _describe(shared) if shared else "nothing every file shares"


def _common(groups: list[tuple[Evidence, ...]]) -> tuple[Evidence, ...]:
    """The records every group holds (what all platforms' artifacts were checked by)."""
    if not groups:
        return ()
    return tuple(r for r in groups[0] if all(r in g for g in groups[1:]))
