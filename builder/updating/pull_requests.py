"""Pull requests through GitHub's REST API alone (the updater Lambda has no git).

One branch per purpose; its single commit is rebuilt on the base branch's head each time, and
the one open pull request from that branch is created once and then only edited, never doubled.
Unchanged content makes no commit; the token goes only to the API (its origin and path, redirects
included) and never into a message.
A proposal may also delete paths: only those the base branch's tree holds, as GitHub refuses to
delete a path that is not there.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from builder.errors import UpstreamError
from builder.plumbing.credentials import Scope
from builder.plumbing.fsutil import within
from builder.plumbing.limits import HttpSettings
from builder.plumbing.redact import redact

_REDIRECTS = (301, 302, 307, 308)


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool  # False: an open one was updated
    committed: bool  # False: the branch already held exactly these files


@dataclass(frozen=True)
class Proposal:
    branch: str
    title: str
    body: str
    message: str
    files: Mapping[str, bytes]  # repository path -> new content
    deletes: frozenset[str] = frozenset()  # repository paths to remove, where the base branch has them


class GitHubClient:
    def __init__(
        self,
        session: requests.Session,
        api: str,
        repository: str,
        token: str,
        limits: HttpSettings | None = None,
    ) -> None:
        self.session, self.api, self.repository, self.token = session, api.rstrip("/"), repository, token
        try:
            self.scope = Scope.parse(self.api)
        except ValueError:
            raise UpstreamError(f"the GitHub API {redact(api)} is not an http(s) URL") from None
        http = limits or HttpSettings()
        self.timeout = (http.connect_timeout, http.read_timeout)

    def download(self, dest: Path, wanted: Callable[[str], bool]) -> str:
        """Write the default branch's files that ``wanted`` accepts under ``dest``; returns the commit."""
        base = self._json("GET", "")["default_branch"]
        head = self._json("GET", f"/git/ref/heads/{base}")["object"]["sha"]
        tree = self._json("GET", f"/git/commits/{head}")["tree"]["sha"]
        for entry in self._blobs(tree):
            if wanted(entry["path"]) and ".." not in entry["path"].split("/"):
                blob = self._json("GET", f"/git/blobs/{entry['sha']}")
                target = within(dest, dest / entry["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(base64.b64decode(blob["content"]))
        return str(head)

    def propose(self, proposal: Proposal) -> PullRequest:
        base = self._json("GET", "")["default_branch"]
        head_sha = self._json("GET", f"/git/ref/heads/{base}")["object"]["sha"]
        base_tree = self._json("GET", f"/git/commits/{head_sha}")["tree"]["sha"]
        gone = self._present(base_tree, proposal.deletes - proposal.files.keys())
        tree = self._tree(base_tree, proposal.files, gone)
        committed = self._commit_if_changed(proposal, head_sha, tree)
        return self._pull(proposal, base, committed)

    def _blobs(self, tree: str) -> list[dict[str, str]]:
        listing = self._json("GET", f"/git/trees/{tree}?recursive=1")
        if listing.get("truncated"):
            raise UpstreamError(f"GitHub listed {self.repository} only in part: the tree is too large")
        return [entry for entry in listing["tree"] if entry["type"] == "blob"]

    def _present(self, tree: str, paths: frozenset[str]) -> dict[str, str]:
        """The paths the tree holds, with their modes: a deletion must name an existing blob."""
        if not paths:
            return {}  # no listing: a proposal without deletions asks what it always asked
        return {e["path"]: e["mode"] for e in self._blobs(tree) if e["path"] in paths}

    def _tree(self, base_tree: str, files: Mapping[str, bytes], gone: Mapping[str, str]) -> str:
        entries: list[dict[str, str | None]] = [
            {"path": path, "mode": "100644", "type": "blob", "sha": self._blob(data)}
            for path, data in sorted(files.items())
        ]
        # On a base_tree, an entry whose sha is null removes that path.
        entries += [{"path": p, "mode": m, "type": "blob", "sha": None} for p, m in sorted(gone.items())]
        return str(self._json("POST", "/git/trees", {"base_tree": base_tree, "tree": entries})["sha"])

    def _blob(self, data: bytes) -> str:
        body = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        return str(self._json("POST", "/git/blobs", body)["sha"])

    def _commit_if_changed(self, proposal: Proposal, parent: str, tree: str) -> bool:
        current = self._branch_head(proposal.branch)
        if current is not None:
            commit = self._json("GET", f"/git/commits/{current}")
            if commit["tree"]["sha"] == tree and [p["sha"] for p in commit["parents"]] == [parent]:
                return False
        body = {"message": proposal.message, "tree": tree, "parents": [parent]}
        sha = self._json("POST", "/git/commits", body)["sha"]
        if current is None:
            self._json("POST", "/git/refs", {"ref": f"refs/heads/{proposal.branch}", "sha": sha})
        else:
            self._json("PATCH", f"/git/refs/heads/{proposal.branch}", {"sha": sha, "force": True})
        return True

    def _branch_head(self, branch: str) -> str | None:
        response = self._request("GET", f"/git/ref/heads/{branch}")
        if response.status_code == 404:
            return None
        return str(self._parse(response, f"/git/ref/heads/{branch}")["object"]["sha"])

    def _pull(self, proposal: Proposal, base: str, committed: bool) -> PullRequest:
        owner = self.repository.split("/")[0]
        query = f"/pulls?state=open&head={owner}:{proposal.branch}&base={base}"
        found = self._json("GET", query)
        fields = {"title": proposal.title, "body": proposal.body}
        if found:
            number = found[0]["number"]
            pull = self._json("PATCH", f"/pulls/{number}", fields)
            return PullRequest(number, pull["html_url"], created=False, committed=committed)
        pull = self._json("POST", "/pulls", {**fields, "head": proposal.branch, "base": base})
        return PullRequest(pull["number"], pull["html_url"], created=True, committed=committed)

    def _request(self, method: str, path: str, body: Any = None) -> requests.Response:
        """Redirects are followed here, and only inside the API: the token never leaves its scope."""
        url = f"{self.api}/repos/{self.repository}{path}"
        for _ in range(5):
            response = self._send(method, url, body)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            following = urljoin(url, location)
            if not self.scope.covers(following):
                raise UpstreamError(
                    f"GitHub {method} {redact(url)}: redirected to {redact(following)}, outside the API "
                    f"{redact(self.api)}: not followed"
                )
            url = following
        raise UpstreamError(f"GitHub {method} {redact(url)}: too many redirects")

    def _send(self, method: str, url: str, body: Any) -> requests.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": f"Bearer {self.token}",
        }
        try:
            return self.session.request(
                method, url, json=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            raise UpstreamError(f"{method} {redact(url)}: {redact(str(e), [self.token])[:200]}") from None

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        return self._parse(self._request(method, path, body), path, method)

    def _parse(self, response: requests.Response, path: str, method: str = "GET") -> Any:
        if response.status_code < 300:
            return response.json()
        status = response.status_code
        hint = " (does the token allow contents and pull requests: write?)" if status in (401, 403) else ""
        where = f"/repos/{self.repository}{path.split('?')[0]}"
        detail = redact(response.text[:200], [self.token])
        raise UpstreamError(f"GitHub {method} {where}: HTTP {status}{hint}: {detail}")
