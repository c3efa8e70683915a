"""Where OSV records come from: the OSV API (querybatch, then each record) or its archives.

The API answers a batch of (package, version) queries with the ids of the records it matched,
a page at a time (``next_page_token``); each record is then read whole from ``/v1/vulns/{id}``,
revalidated with its ETag. Offline, the per-ecosystem archives OSV publishes (``all.zip``, one
JSON record per file) are read from a folder that ``builder store osv`` filled.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from packaging.utils import canonicalize_name

from builder.auditing.components import Component
from builder.auditing.records import Vulnerability, read_record
from builder.errors import UpstreamError, UserError
from builder.plumbing.http import HttpClient

_BATCH = 1000  # OSV's limit of queries per querybatch
_MAX_PAGES = 100


@dataclass(frozen=True)
class Candidate:
    """A record that may affect a component; ``server_matched``: OSV's API said it does."""

    record: Vulnerability
    server_matched: bool


class Database(Protocol):
    def candidates(self, components: Sequence[Component]) -> dict[Component, list[Candidate]]: ...


class OsvApi:
    """The OSV API at ``base`` (builder.yaml's ``upstreams.osv``: OSV itself or a mirror)."""

    def __init__(self, http: HttpClient, base: str) -> None:
        self.http, self.base = http, base.rstrip("/")

    def candidates(self, components: Sequence[Component]) -> dict[Component, list[Candidate]]:
        ids = self.matched_ids(components)
        records = {i: self.record(i) for i in sorted({i for found in ids.values() for i in found})}
        return {c: [Candidate(records[i], True) for i in ids[c]] for c in components}

    def matched_ids(self, components: Sequence[Component]) -> dict[Component, list[str]]:
        out: dict[Component, list[str]] = {c: [] for c in components}
        for start in range(0, len(components), _BATCH):
            self._batch(list(components[start : start + _BATCH]), out)
        return out

    def _batch(self, batch: list[Component], out: dict[Component, list[str]]) -> None:
        pending: dict[Component, str | None] = dict.fromkeys(batch)
        for _ in range(_MAX_PAGES):
            asked = list(pending)
            answer = self.http.post_json(
                f"{self.base}/v1/querybatch", {"queries": [_query(c, pending[c]) for c in asked]}
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(asked):
                raise UpstreamError(
                    f"{self.base}/v1/querybatch: the answer does not hold one result per query"
                )
            pending = {}
            for component, result in zip(asked, results, strict=True):
                out[component] += [str(v["id"]) for v in (result or {}).get("vulns") or ()]
                if (result or {}).get("next_page_token"):
                    pending[component] = str(result["next_page_token"])
            if not pending:
                return
        raise UpstreamError(f"{self.base}/v1/querybatch: more than {_MAX_PAGES} pages; is it a loop?")

    def record(self, vuln_id: str) -> Vulnerability:
        url = f"{self.base}/v1/vulns/{quote(vuln_id, safe='')}"
        return read_record(self.http.get_json(url), url)


def _query(component: Component, page_token: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "package": {"ecosystem": component.ecosystem, "name": component.name},
        "version": component.version,
    }
    if page_token:
        query["page_token"] = page_token
    return query


def _archive_path(folder: Path, ecosystem: str) -> Path:
    """Where an ecosystem's archive is kept: ``<folder>/<ecosystem>/all.zip``, as OSV lays them out."""
    return folder / ecosystem / "all.zip"


class OsvArchive:
    """OSV's published archives in ``folder``: no network; nothing is server-matched."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: dict[tuple[str, str], list[Vulnerability]] = {}
        self._read: set[str] = set()

    def candidates(self, components: Sequence[Component]) -> dict[Component, list[Candidate]]:
        for ecosystem in sorted({c.ecosystem for c in components}):
            self._load(ecosystem)
        return {
            c: [Candidate(r, False) for r in self._index.get(_key(c.ecosystem, c.name), [])]
            for c in components
        }

    def _load(self, ecosystem: str) -> None:
        if ecosystem in self._read:
            return
        path = _archive_path(self.folder, ecosystem)
        if not path.is_file():
            raise UserError(
                f"{path}: no OSV archive for {ecosystem}: run `builder store osv` where there is network"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                for record in _records(archive, path):
                    for name in {a.package for a in record.affected if a.ecosystem == ecosystem}:
                        self._index.setdefault(_key(ecosystem, name), []).append(record)
        except (zipfile.BadZipFile, OSError) as e:
            raise UserError(f"{path}: not a readable OSV archive ({e}): fetch it again") from None
        self._read.add(ecosystem)


def _records(archive: zipfile.ZipFile, path: Path) -> Iterable[Vulnerability]:
    for info in archive.infolist():
        if info.filename.endswith(".json") and not info.is_dir():
            try:
                data = json.loads(archive.read(info))
            except json.JSONDecodeError as e:
                raise UserError(f"{path}!{info.filename}: not JSON ({e.msg})") from None
            yield read_record(data, f"{path}!{info.filename}")


def _key(ecosystem: str, name: str) -> tuple[str, str]:
    return (ecosystem, canonicalize_name(name) if ecosystem == "PyPI" else name)


def mirror_archives(http: HttpClient, base: str, ecosystems: Iterable[str], folder: Path) -> list[Path]:
    """Download each ecosystem's ``all.zip`` from ``base`` (upstreams.osv_archive) into ``folder``.

    Each lands under a temporary name and is renamed into place once whole and readable, so an
    interrupted mirror leaves the previous archive, never half of one.
    """
    written = []
    for ecosystem in sorted(set(ecosystems)):
        dest = _archive_path(folder, ecosystem)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".zip.partial")
        http.download(f"{base.rstrip('/')}/{quote(ecosystem)}/all.zip", partial)
        if not zipfile.is_zipfile(partial):
            partial.unlink()
            raise UpstreamError(f"{base}/{ecosystem}/all.zip: not a zip archive")
        partial.replace(dest)
        written.append(dest)
    return written
