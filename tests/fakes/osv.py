"""The OSV API on 127.0.0.1: ``POST /v1/querybatch`` and ``GET /v1/vulns/{id}``, with real record shapes.

Records are OSV schema 1.6 documents (``affected[].ranges`` of type ECOSYSTEM, SEMVER and GIT,
``versions`` lists, aliases, ``withdrawn``, ``database_specific.severity``, CVSS vectors). Like
OSV, querybatch answers only ids (and ``modified``), a page of ``page_size`` at a time with a
``next_page_token`` to ask again with. Its server-side match is deliberately coarse (every record
naming the package, except a GIT-only one whose ``versions`` lack the version), so the client's
own range evaluation is what decides. Records are served with an ETag and answer 304 to
``If-None-Match``. The archives (``/<ecosystem>/all.zip``) are served too. ``seen`` records
every request.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import StateServer, running


def record(
    vuln_id: str, ecosystem: str, package: str, ranges: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """An OSV record with one affected package; ``extra``: aliases, severity, versions, withdrawn, ..."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": package}, "ranges": ranges}
    if "versions" in extra:
        affected["versions"] = extra.pop("versions")
    return {"schema_version": "1.6.0", "id": vuln_id, "modified": "2026-11-01T00:00:00Z",
            "published": "2026-10-01T00:00:00Z", "summary": f"{vuln_id} in {package}", "affected": [affected],
            **extra}  # fmt: skip


def ecosystem_range(*events: dict[str, str], kind: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": kind, "events": list(events)}


def git_range(repo: str, *events: dict[str, str]) -> dict[str, Any]:
    return {"type": "GIT", "repo": repo, "events": list(events)}


def cvss3(vector: str) -> list[dict[str, str]]:
    return [{"type": "CVSS_V3", "score": vector}]


@dataclass
class FakeOsv:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_size: int = 2
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    queries: list[dict[str, Any]] = field(default_factory=list)
    # Versions OSV resolves for a GIT-only record from the repository's tags, beyond its
    # ``versions`` list: the server matches them, a client holding only the record cannot.
    git_tags: dict[str, list[str]] = field(default_factory=dict)
    unavailable: int = 0  # answer this many querybatch requests with 503 first

    def add(self, *records: dict[str, Any]) -> None:
        for data in records:
            self.records[data["id"]] = data

    def remove(self, vuln_id: str) -> None:
        del self.records[vuln_id]

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        self.queries.append(query)
        ids = sorted(i for i, r in self.records.items() if _named(r, query, self.git_tags.get(i, [])))
        start = int(query.get("page_token") or 0)
        page = ids[start : start + self.page_size]
        result: dict[str, Any] = {"vulns": [{"id": i, "modified": self.records[i]["modified"]} for i in page]}
        if start + self.page_size < len(ids):
            result["next_page_token"] = str(start + self.page_size)
        return result if page else {}

    def archive(self, ecosystem: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for vuln_id, data in sorted(self.records.items()):
                if any(a["package"]["ecosystem"] == ecosystem for a in data["affected"]):
                    zf.writestr(f"{vuln_id}.json", json.dumps(data))
        return out.getvalue()


def _named(data: dict[str, Any], query: dict[str, Any], tags: list[str]) -> bool:
    package, version = query["package"], query.get("version", "")
    for affected in data["affected"]:
        if affected["package"] != {"ecosystem": package["ecosystem"], "name": package["name"]}:
            continue
        git_only = all(r["type"] == "GIT" for r in affected.get("ranges", []))
        if not git_only or version in affected.get("versions", []) or version in tags:
            return True
    return False


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        state: FakeOsv = self.server.state
        state.seen.append(("POST", self.path))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if state.unavailable:
            state.unavailable -= 1
            self._send(503, b'{"code": 14, "message": "unavailable"}')
            return
        if self.path != "/v1/querybatch" or not isinstance(body.get("queries"), list):
            self._send(400, b'{"code": 3, "message": "bad request"}')
            return
        answer = {"results": [state.query(q) for q in body["queries"]]}
        self._send(200, json.dumps(answer).encode())

    def do_GET(self) -> None:
        state: FakeOsv = self.server.state
        state.seen.append(("GET", self.path))
        if self.path.endswith("/all.zip"):
            self._send(200, state.archive(self.path.strip("/").split("/")[0]), "application/zip")
            return
        vuln_id = self.path.removeprefix("/v1/vulns/")
        if not self.path.startswith("/v1/vulns/") or vuln_id not in state.records:
            self._send(404, b'{"code": 5, "message": "Bug not found."}')
            return
        data = json.dumps(state.records[vuln_id]).encode()
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", etag=etag)
            return
        self._send(200, data, etag=etag)

    def _send(self, status: int, data: bytes, kind: str = "application/json", etag: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(state: FakeOsv) -> Iterator[str]:
    with running(_Handler, state) as url:
        yield url
