"""Continuity: a new entry of a tool must be vouched for by whoever vouched for the one it replaces.

A release whose signer vanished, whose certificate names another identity or issuer, or which
a new OpenPGP key signed is what a stolen release pipeline looks like, even when every signature
verifies. Such an entry fails that tool, naming both signers, until a person accepts it with
``--accept-provenance-change``. Evidence that only gets stronger (a signer where none was, a
keyless signature beside a key's) passes. Only the records' ``signer()`` is read, never their text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from builder.errors import UserError
from builder.locking.evidence import Signer
from builder.locking.lockfile import LockedTool
from builder.plumbing.markdown import code

ACCEPT_OPTION = "--accept-provenance-change"


def _signers(entry: LockedTool) -> tuple[Signer, ...]:
    """Every signer the entry's evidence proves, each once, sorted."""
    found = {s for _, record in entry.payload.evidence() if (s := record.signer()) is not None}
    return tuple(sorted(found, key=lambda s: (s.scheme, s.identity, s.issuer)))


def _unversioned(signer: Signer, version: str) -> Signer:
    """A workflow identity names the release's tag (``...@refs/tags/v0.68.1``): that part is the
    version, not the signer, so two versions built by the same workflow compare equal."""
    tag = re.compile(rf"(@refs/tags/v?){re.escape(version)}$")
    return dataclasses.replace(signer, identity=tag.sub(r"\1{version}", signer.identity))


@dataclass(frozen=True)
class Provenance:
    """The new entry's signers, and what changed against the old entry's (``old`` None: new tool)."""

    new: tuple[Signer, ...]
    old: tuple[Signer, ...] | None = None
    lost: tuple[Signer, ...] = ()  # the old entry's signers the new one lacks
    added: tuple[Signer, ...] = ()  # the new entry's signers the old one lacks
    accepted: bool = False  # weaker, and a person accepted it
    rotated: bool = False  # another key of the pinned keyring signed (provenance signers: keyring)

    @property
    def weaker(self) -> bool:
        """A signer gone (or its identity or issuer changed), or a new OpenPGP key where one signed."""
        return bool(self.lost) or bool(self.old and any(s.scheme == "openpgp" for s in self.added))

    def change(self) -> str:
        """What changed, in a few words ("signer unchanged"), without the bold a weaker one gets."""
        if self.old is None:
            return "newly locked"
        if self.weaker:
            how = "accepted by " + ACCEPT_OPTION if self.accepted else "refused"
            return f"provenance changed: {how}"
        if self.added:
            return "signer added"
        if self.rotated:
            return "another key of the pinned keyring signed (signers: keyring)"
        return "signer unchanged" if self.new else "unsigned, as before"


def compare(
    old: LockedTool | None, new: LockedTool, accepted: bool = False, keyring: bool = False
) -> Provenance:
    """``keyring``: every OpenPGP key of the pinned keyring counts as one signer (its fingerprint
    is still shown, and a change of it is still said)."""
    if old is None:
        return Provenance(_signers(new))
    before = {_same(s, old.version, keyring): s for s in _signers(old)}
    after = {_same(s, new.version, keyring): s for s in _signers(new)}
    lost = tuple(s for key, s in before.items() if key not in after)
    added = tuple(s for key, s in after.items() if key not in before)
    rotated = keyring and _openpgp(_signers(old)) != _openpgp(_signers(new))
    found = Provenance(_signers(new), _signers(old), lost, added, rotated=rotated)
    return dataclasses.replace(found, accepted=accepted and found.weaker)


def _same(signer: Signer, version: str, keyring: bool) -> Signer:
    """What must stay the same across versions for the signer to count as the same."""
    if keyring and signer.scheme == "openpgp":
        return Signer("openpgp", "a key of the pinned keyring")
    return _unversioned(signer, version)


def _openpgp(signers: tuple[Signer, ...]) -> set[str]:
    return {s.identity for s in signers if s.scheme == "openpgp"}


def _describe(signer: Signer) -> str:
    """One signer for people: "OpenPGP `<fingerprint>`", "signed by `<identity>` (sigstore, issuer <url>)"."""
    if signer.scheme == "openpgp":
        return f"OpenPGP {code(signer.identity)}"
    # A certificate's words: code spans, which no backtick or line break in them can end.
    issuer = f", issuer {code(signer.issuer)}" if signer.issuer else ""
    return f"signed by {code(signer.identity)} ({signer.scheme}{issuer})"


def _describe_all(found: tuple[Signer, ...]) -> str:
    return ", ".join(map(_describe, found)) or "no signature"


def provenance_text(found: Provenance, markdown: bool = False) -> str:
    """The new signers and the change: "OpenPGP `C874...`; signer unchanged"; a weaker one in bold."""
    change = found.change()
    if found.weaker:
        shown = f"**{change}**" if markdown else change
        change = f"{shown} (was {_describe_all(found.old or ())})"
    return f"{_describe_all(found.new)}; {change}"


class ProvenanceChanged(UserError):
    """A bump whose evidence is weaker than the locked version's, not accepted."""

    def __init__(self, tool: str, old: LockedTool, new: LockedTool, found: Provenance) -> None:
        super().__init__(
            f"provenance changed from {old.version} to {new.version} ({old.version}: "
            f"{_describe_all(found.old or ())}; {new.version}: {_describe_all(found.new)}). "
            f"Nothing was written for {tool}; if the new signer is expected, accept it with "
            f"`builder lock --upgrade {ACCEPT_OPTION} {tool}`"
        )


def check_continuity(
    old: LockedTool | None, new: LockedTool, accepted: bool, keyring: bool = False
) -> Provenance:
    """The comparison of the two entries; ProvenanceChanged when weaker and not ``accepted``."""
    found = compare(old, new, accepted, keyring)
    if old is not None and found.weaker and not accepted:
        raise ProvenanceChanged(new.name, old, new, found)
    return found
