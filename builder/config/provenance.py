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
    "none": (),  # nothing published: recorded, not failed
}


@dataclass(frozen=True)
class Requirement:
    kind: str
    where: str
    identity: str = ""  # exact; may hold {version}
    identity_regex: str = ""
    issuer: str = _GITHUB_ISSUER
    bundle: str = ""  # sigstore-bundle: the bundle's file name, {asset} = the asset's
    signed: str = ""  # cosign, github-attestation: the release file signed; may hold {version}

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


def _every() -> list[str]:
    return ["kind", "identity", "identity_regex", "issuer", *{k for keys in _KINDS.values() for k in keys}]


def _regex(node: Node) -> str:
    pattern = node.text()
    try:
        re.compile(pattern)
    except re.error as e:
        raise node.error(f"bad regular expression: {e}") from None
    return pattern
