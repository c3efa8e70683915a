"""The catalogue's ``provenance:`` enforced while a source locks a tool (fail-closed).

A source hands over what it pinned (a release's checksum file, each asset, each distribution
file); this returns the records of the signatures checked over them, or raises
SignatureError naming the tool: a declared signature that is missing fails like a wrong one.
The verifiers are builder.signatures's; the material comes from the release or the index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from builder.config.names import fill
from builder.errors import SignatureError
from builder.locking.evidence import Evidence, NonePublished
from builder.signatures.base import Subject

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot

    from builder.config.catalogue import Tool
    from builder.config.provenance import Requirement
    from builder.locking.lockfile import LockedTool
    from builder.sources.base import SourceDeps

_DEFAULT_REKOR = "https://rekor.sigstore.dev"
Fetch = Callable[[str], bytes | None]  # a release file's bytes by name, None when not published


class Signatures:
    def __init__(self, ctx: SourceDeps, tool: Tool, version: str) -> None:
        self.ctx, self.tool, self.version = ctx, tool, version
        self.rule: Requirement | None = tool.provenance

    @cached_property
    def root(self) -> TrustedRoot:
        from builder.signatures.trust import root_in

        return root_in(self.ctx.keys_dir)

    def wants(self, kind: str) -> bool:
        return self.rule is not None and self.rule.kind == kind

    def none_published(self, upstream: str) -> tuple[Evidence, ...]:
        return (NonePublished(upstream),) if self.rule is not None and self.rule.kind == "none" else ()

    def over_release_file(self, name: str, data: bytes, fetch: Fetch, api_get: Fetch) -> tuple[Evidence, ...]:
        """cosign or GitHub attestation over ``name`` (the checksum file), as the catalogue requires."""
        rule = self.rule
        if rule is None or rule.kind not in ("cosign", "github-attestation"):
            return ()
        subject = Subject(name, hashlib.sha256(data).hexdigest(), self.version, data)
        self._named(fill(rule.signed, self.version), name)
        if rule.kind == "cosign":
            return (self._cosign(subject, fetch),)
        from builder.signatures.attestation import verify_attestations

        answer = api_get(f"attestations/sha256:{subject.sha256}")
        try:
            listed = json.loads(answer or b"{}")
        except ValueError:
            raise SignatureError(f"{name}: GitHub's attestations answer is not JSON") from None
        return self._guard(lambda: verify_attestations(self.root, subject, listed, rule))

    def over_asset(self, name: str, sha256: str, fetch: Fetch) -> tuple[Evidence, ...]:
        """A Sigstore bundle published beside each asset."""
        rule = self.rule
        if rule is None or rule.kind != "sigstore-bundle":
            return ()
        from builder.signatures.bundle import verify_bundle

        bundle_name = rule.bundle.replace("{asset}", name)
        raw = self._material(fetch, bundle_name)
        subject = Subject(name, sha256, self.version)
        return self._guard(lambda: verify_bundle(self.root, subject, raw, rule))

    def over_distribution(self, name: str, sha256: str, provenance: bytes | None) -> tuple[Evidence, ...]:
        """A PEP 740 attestation of one distribution file, from the index's provenance."""
        rule = self.rule
        if rule is None or rule.kind != "pep740":
            return ()
        if provenance is None:
            raise SignatureError(
                f"{name} has no PEP 740 provenance, which tools.yaml ({self._where()}) requires (a mirror "
                "without PyPI's Integrity API? set upstreams.pypi_integrity in builder.yaml)"
            )
        from builder.signatures.pep740 import verify_pep740

        subject = Subject(name, sha256, self.version)
        return self._guard(lambda: verify_pep740(self.root, subject, provenance, rule))

    def _cosign(self, subject: Subject, fetch: Fetch) -> Evidence:
        from builder.signatures.cosign import verify_cosign
        from builder.signatures.rekor import RekorLog

        assert self.rule is not None
        rule = self.rule
        signature = self._material(fetch, f"{subject.name}.sig")
        pem = self._material(fetch, f"{subject.name}.pem")
        log = RekorLog(self.ctx.http, self.ctx.base_urls.get("rekor", _DEFAULT_REKOR))
        (record,) = self._guard(lambda: verify_cosign(self.root, subject, signature, pem, log, rule))
        return record

    def _material(self, fetch: Fetch, name: str) -> bytes:
        data = fetch(name)
        if data is None:
            raise SignatureError(
                f"release {self.version} has no {name}, which tools.yaml ({self._where()}) requires"
            )
        return data

    def _named(self, wanted: str, name: str) -> None:
        if wanted != name:
            raise SignatureError(
                f"tools.yaml ({self._where()}) says {wanted} is signed, but the checksum file is {name}"
            )

    def _guard(self, check: Callable[[], Evidence]) -> tuple[Evidence, ...]:
        """One record; the lock names the tool in front of any refusal (so this does not)."""
        return (check(),)

    def _where(self) -> str:
        return self.rule.where if self.rule is not None else self.tool.where


def require_declared_openpgp(tool: Tool, entry: LockedTool) -> None:
    """``kind: openpgp`` is met by the source's own check: the entry must carry its record."""
    rule = tool.provenance
    if rule is None or rule.kind != "openpgp":
        return
    schemes = {signer.scheme for _, r in entry.payload.evidence() if (signer := r.signer()) is not None}
    if "openpgp" not in schemes:
        raise SignatureError(
            f"{entry.version} has no OpenPGP signature, which tools.yaml ({rule.where}) requires"
        )
