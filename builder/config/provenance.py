"""A tool's ``provenance:`` in tools.yaml: which signature its upstream publishes, and who must have signed.

The catalogue declares it, the lock enforces it (fail-closed): a declared check that fails, or
whose material is missing, fails that tool. ``identity`` is exact (``{version}`` filled in);
``identity_regex`` matches the whole identity instead, for workflows whose ref varies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.config import names
from builder.config.document import Node, one_of

_GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# kind -> the keys it needs besides identity and issuer
_KINDS: dict[str, tuple[str, ...]] = {
    "sigstore-bundle": ("bundle",),  # one bundle per asset, "{asset}.sigstore.json"
    "cosign": ("signed",),  # "<signed>.sig" + "<signed>.pem" over a release file
    "github-attestation": ("signed",),  # an attestation whose subject is that release file
    "pep740": (),  # the index's provenance of each distribution file
    "openpgp": (),  # a detached OpenPGP signature, by a key of the source's pinned keyring
    "none": (),  # nothing published: recorded, not failed
}
# openpgp: who may sign a bump. "key": the key that signed the locked version (another is a
# provenance change); "keyring": any key of the pinned keyring, for upstreams whose release
# managers take turns (Node.js). The keyring itself is a reviewed file in the repository.
_SIGNERS = ("key", "keyring")


@dataclass(frozen=True)
class Requirement:
    kind: str
    where: str
    identity: str = ""  # exact; may hold {version}
    identity_regex: str = ""
    issuer: str = _GITHUB_ISSUER
    bundle: str = ""  # sigstore-bundle: the bundle's file name, {asset} = the asset's
    signed: str = ""  # cosign, github-attestation: the release file signed; may hold {version}
    signers: str = "key"  # openpgp: "key" or "keyring" (see _SIGNERS)

    @property
    def any_keyring_key(self) -> bool:
        """Continuity counts every key of the pinned keyring as one signer."""
        return self.kind == "openpgp" and self.signers == "keyring"

    def accepts(self, identity: str, version: str) -> bool:
        if self.identity:
            return identity == names.fill(self.identity, version)
        return re.fullmatch(self.identity_regex, identity) is not None

    def wanted(self, version: str) -> str:
        """The identity required, for messages."""
        return names.fill(self.identity, version) if self.identity else f"/{self.identity_regex}/"


def read_requirement(node: Node) -> Requirement:
    kind_node = node.mapping(_every(), required=["kind"])["kind"]
    kind = kind_node.text()
    if kind not in _KINDS:
        raise kind_node.error(f"unknown provenance kind '{kind}' ({one_of(_KINDS)})")
    if kind == "none":
        node.mapping(["kind"], required=["kind"])
        return Requirement(kind, node.where())
    if kind == "openpgp":
        return _openpgp(node)
    fields = node.mapping(
        ["kind", "identity", "identity_regex", "issuer", *_KINDS[kind]], ["kind", *_KINDS[kind]]
    )
    if ("identity" in fields) == ("identity_regex" in fields):
        raise node.error("give exactly one of 'identity' and 'identity_regex'")
    return Requirement(
        kind,
        node.where(),
        identity=fields["identity"].text() if "identity" in fields else "",
        identity_regex=_regex(fields["identity_regex"]) if "identity_regex" in fields else "",
        issuer=fields["issuer"].checked(names.check_url, fields["issuer"].text())
        if "issuer" in fields
        else _GITHUB_ISSUER,
        bundle=fields["bundle"].text() if "bundle" in fields else "",
        signed=fields["signed"].text() if "signed" in fields else "",
    )


def _openpgp(node: Node) -> Requirement:
    """The key is the identity (its fingerprint, pinned in the keyring): nothing else to name."""
    fields = node.mapping(["kind", "signers"], required=["kind"])
    signers = fields["signers"].text() if "signers" in fields else "key"
    if signers not in _SIGNERS:
        raise fields["signers"].error(f"unknown signers '{signers}' ({one_of(_SIGNERS)})")
    return Requirement("openpgp", node.where(), signers=signers)


def _every() -> list[str]:
    everything = {k for keys in _KINDS.values() for k in keys}
    return ["kind", "identity", "identity_regex", "issuer", "signers", *sorted(everything)]


def _regex(node: Node) -> str:
    pattern = node.text()
    try:
        re.compile(pattern)
    except re.error as e:
        raise node.error(f"bad regular expression: {e}") from None
    return pattern
