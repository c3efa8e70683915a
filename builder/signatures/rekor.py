"""Rekor v1's lookup by hash: ``POST /api/v1/index/retrieve``, then ``GET /api/v1/log/entries/{uuid}``."""

from __future__ import annotations

from typing import Any

import requests

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
        # The index search is the one POST of the v1 API; it is read-only and carries no credential.
        url = f"{self.base}/api/v1/index/retrieve"
        limits = self.http.limits
        try:
            answer = self.http.session.post(
                url, json={"hash": f"sha256:{sha256}"}, timeout=(limits.connect_timeout, limits.read_timeout)
            )
        except requests.RequestException as e:
            raise UpstreamError(
                f"cannot search the transparency log at {self.base}: {type(e).__name__}"
            ) from None
        if answer.status_code != 200:
            raise UpstreamError(
                f"the transparency log at {self.base} answered {answer.status_code} to a search"
            )
        try:
            found = answer.json()
        except ValueError:
            raise UpstreamError(
                f"the transparency log at {self.base} answered a search with no JSON"
            ) from None
        return [u for u in found if isinstance(u, str)] if isinstance(found, list) else []
