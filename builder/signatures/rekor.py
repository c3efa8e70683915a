"""Rekor v1's lookup by hash: ``POST /api/v1/index/retrieve``, then ``GET /api/v1/log/entries/{uuid}``."""

from __future__ import annotations

from typing import Any

from builder.errors import UpstreamError
from builder.plumbing.http import HttpClient

_MAX_ENTRIES = 8  # a file is logged once per signing; more is someone filling the log


class RekorLog:
    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http, self.base = http, base_url.rstrip("/")

    def entries_for(self, sha256: str) -> list[dict[str, Any]]:
        """The log entries (uuid -> entry answers, flattened) that name this hash."""
        uuids = self._search(sha256)
        entries = []
        for uuid in uuids[:_MAX_ENTRIES]:
            answer = self.http.get_json(f"{self.base}/api/v1/log/entries/{uuid}", conditional=False)
            if isinstance(answer, dict):
                entries += [e for e in answer.values() if isinstance(e, dict)]
        return entries

    def _search(self, sha256: str) -> list[str]:
        # The index search is the one POST of the v1 API: read-only, no credential, and retried
        # like any GET (a log that hiccups once must not fail a lock).
        url = f"{self.base}/api/v1/index/retrieve"
        try:
            found = self.http.post_json(url, {"hash": f"sha256:{sha256}"})
        except UpstreamError as e:
            raise UpstreamError(f"cannot search the transparency log at {self.base}: {e}") from None
        return [u for u in found if isinstance(u, str)] if isinstance(found, list) else []
