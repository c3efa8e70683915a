"""The bump pull request's part of the Sigstore trusted root: refreshed over TUF, proposed as a diff.

The walk is the one ``builder refresh-trusted-root`` makes; what differs from the keys folder in
the repository is proposed with the tool bumps, and the body says which authorities and logs
were added or removed, read from the two documents (never a text diff). A walk that is refused
is a failure of the run: the pinned files are never replaced by anything unverified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.errors import BuilderError
from builder.signatures.trust import IN_KEYS, TUF_ROOT, fetch_over_tuf

# trusted_root.json's lists, and what people call their entries
_SECTIONS = {"certificateAuthorities": "certificate authority", "tlogs": "transparency log",
             "ctlogs": "CT log", "timestampAuthorities": "timestamp authority"}  # fmt: skip


@dataclass(frozen=True)
class TrustChange:
    files: Mapping[str, bytes] = field(default_factory=dict)  # repository path -> new content
    summary: tuple[str, ...] = ()  # one line per authority or log added or removed
    problem: str = ""  # the walk was refused: nothing is proposed


@dataclass(frozen=True)
class TrustRefresh:
    repository: str  # the TUF repository's base URL
    keys_dir: Path  # the trusted-keys folder, inside the project's repository
    path: str  # that folder's path in the repository

    def proposed(self) -> TrustChange:
        try:
            fetched = fetch_over_tuf(self.repository, self.keys_dir)
        except BuilderError as e:
            return TrustChange(problem=str(e))
        files = {}
        for name, data in ((TUF_ROOT, fetched.tuf_root), (IN_KEYS, fetched.trusted_root)):
            if _read(self.keys_dir / name) != data:
                files[f"{self.path}/{name}" if self.path else name] = data
        old = _read(self.keys_dir / IN_KEYS)
        summary = _describe(old, fetched.trusted_root) if old != fetched.trusted_root else ()
        return TrustChange(files, summary)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _describe(old: bytes | None, new: bytes) -> tuple[str, ...]:
    """What the new trusted root adds and drops, an entry per line."""
    before, after = _entries(old), _entries(new)
    lines = [f"added {entry}" for entry in sorted(after - before)]
    lines += [f"removed {entry}" for entry in sorted(before - after)]
    return tuple(lines) or ("the same authorities and logs (other fields changed)",)


def _entries(raw: bytes | None) -> set[str]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        return set()
    found = set()
    for key, label in _SECTIONS.items():
        items = document.get(key) if isinstance(document, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                found.add(_entry(label, item))
    return found


def _entry(label: str, item: Mapping[str, Any]) -> str:
    # signed by Sigstore's TUF keys, still shown as code: a backtick or line break cannot end it
    where = " ".join(str(item.get("baseUrl") or item.get("uri") or "?").replace("`", "'").split())
    key = (item.get("logId") or {}).get("keyId")
    valid = item.get("validFor") or (item.get("publicKey") or {}).get("validFor") or {}
    until = f" until {valid['end']}" if valid.get("end") else ""
    named = f" (key {str(key)[:12]}…)" if key else ""
    return f"{label} `{where}`{named}, valid from {valid.get('start', '?')}{until}"
