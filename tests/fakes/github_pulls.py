"""GitHub's git-data and pulls REST API on 127.0.0.1: blobs, trees, commits, refs and pull requests.

Enough of GitHub for a client with no git: it keeps real content, refuses a second open pull
request from the same head (422, as GitHub does), demands the token, and records every call.
A new tree's entry with a null sha deletes that path from the base tree, and, as on GitHub, naming
a path the base tree lacks is an error (422). Trees are stored flat (path -> blob): a listing with
?recursive=1 adds the folders as "tree" entries, one without lists the top level only.

Everything is also served under ``/api/v3``, as GitHub Enterprise Server does. ``redirects`` maps a
path prefix to the URL that replaces it (a 307, as GitHub answers for a moved repository), and
``seen`` records every request's path and Authorization header, so a test sees where a token went.

With ``releases`` (a served FakeGitHub) the same host also answers, as that fake and without
demanding the token, every GET outside this repository: one API for pulls and releases, as
GitHub's own, while the release assets stay on the FakeGitHub's own host and port.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.github import FakeGitHub, respond
from tests.fakes.server import StateServer, running


def _sha(kind: str, data: Any) -> str:
    return hashlib.sha1(f"{kind}:{json.dumps(data, sort_keys=True)}".encode()).hexdigest()


@dataclass
class FakeRepo:
    owner: str = "acme"
    name: str = "ci-images"
    token: str = "ghp_fake_token_0123456789"
    default_branch: str = "main"
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # tree sha -> path -> blob sha
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    pulls: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    releases: FakeGitHub | None = None
    redirects: dict[str, str] = field(default_factory=dict)  # path prefix -> the URL replacing it
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    url: str = ""

    def seed(self, files: dict[str, bytes]) -> None:
        tree = self._tree({path: self._blob(data) for path, data in files.items()})
        self.refs[self.default_branch] = self._commit("initial", tree, [])

    def files_at(self, branch: str) -> dict[str, bytes]:
        tree = self.trees[self.commits[self.refs[branch]]["tree"]["sha"]]
        return {path: self.blobs[sha] for path, sha in tree.items()}

    def open_pulls(self) -> list[dict[str, Any]]:
        return [p for p in self.pulls if p["state"] == "open"]

    def _blob(self, data: bytes) -> str:
        sha = _sha("blob", base64.b64encode(data).decode())
        self.blobs[sha] = data
        return sha

    def _tree(self, entries: dict[str, str]) -> str:
        sha = _sha("tree", entries)
        self.trees[sha] = dict(entries)
        return sha

    def _commit(self, message: str, tree: str, parents: list[str]) -> str:
        sha = _sha("commit", {"m": message, "t": tree, "p": parents, "n": len(self.commits)})
        self.commits[sha] = {
            "sha": sha,
            "message": message,
            "tree": {"sha": tree},
            "parents": [{"sha": p} for p in parents],
        }
        return sha

    def handle(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        self.calls.append((method, target))
        if self.fail_next:
            return self.fail_next.pop(0), {"message": "injected failure"}
        prefix = f"/repos/{self.owner}/{self.name}"
        target = target.removeprefix("/api/v3")  # GitHub Enterprise Server's API path
        if not target.startswith(prefix):
            return 404, {"message": "Not Found"}
        split = urlsplit(target[len(prefix) :])
        return self._route(method, split.path, parse_qs(split.query), body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        routes = {
            ("GET", ""): lambda: (200, {"default_branch": self.default_branch}),
            ("POST", "/git/blobs"): lambda: (201, {"sha": self._blob(base64.b64decode(body["content"]))}),
            ("POST", "/git/trees"): lambda: self._new_tree(body),
            ("POST", "/git/commits"): lambda: (
                201,
                self.commits[self._commit(body["message"], body["tree"], body["parents"])],
            ),
            ("POST", "/git/refs"): lambda: self._new_ref(body),
            ("GET", "/pulls"): lambda: (200, self._find_pulls(query)),
            ("POST", "/pulls"): lambda: self._new_pull(body),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        return self._by_id(method, path, query, body)

    def _by_id(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if method == "GET" and path.startswith("/git/ref/heads/"):
            sha = self.refs.get(path.removeprefix("/git/ref/heads/"))
            return (200, {"object": {"sha": sha}}) if sha else (404, {"message": "Not Found"})
        if method == "GET" and path.startswith("/git/trees/"):
            return self._list_tree(path.removeprefix("/git/trees/"), bool(query.get("recursive")))
        if method == "GET" and path.startswith("/git/blobs/"):
            data = self.blobs.get(path.removeprefix("/git/blobs/"))
            if data is None:
                return 404, {"message": "Not Found"}
            return 200, {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        if method == "GET" and path.startswith("/git/commits/"):
            commit = self.commits.get(path.removeprefix("/git/commits/"))
            return (200, commit) if commit else (404, {"message": "Not Found"})
        if method == "PATCH" and path.startswith("/git/refs/heads/"):
            self.refs[path.removeprefix("/git/refs/heads/")] = body["sha"]
            return 200, {"object": {"sha": body["sha"]}}
        if method == "PATCH" and path.startswith("/pulls/"):
            pull = next(p for p in self.pulls if p["number"] == int(path.removeprefix("/pulls/")))
            pull.update({k: body[k] for k in ("title", "body") if k in body})
            return 200, pull
        return 404, {"message": "Not Found"}

    def _list_tree(self, sha: str, recursive: bool) -> tuple[int, Any]:
        entries = self.trees.get(sha)
        if entries is None:
            return 404, {"message": "Not Found"}
        blobs = [{"path": p, "type": "blob", "sha": s, "mode": "100644"} for p, s in entries.items()]
        folders = {"/".join(p.split("/")[:n]) for p in entries for n in range(1, p.count("/") + 1)}
        listing = blobs + [
            {"path": f, "type": "tree", "sha": _sha("tree", f), "mode": "040000"} for f in folders
        ]
        if not recursive:
            listing = [e for e in listing if "/" not in e["path"]]
        return 200, {"sha": sha, "tree": sorted(listing, key=lambda e: e["path"]), "truncated": False}

    def _new_tree(self, body: Any) -> tuple[int, Any]:
        entries = dict(self.trees[body["base_tree"]]) if body.get("base_tree") else {}
        for entry in body["tree"]:
            if entry["sha"] is not None:
                entries[entry["path"]] = entry["sha"]
            elif entries.pop(entry["path"], None) is None:
                return 422, {"message": f"cannot delete {entry['path']}: not in the base tree"}
        return 201, {"sha": self._tree(entries)}

    def _new_ref(self, body: Any) -> tuple[int, Any]:
        branch = body["ref"].removeprefix("refs/heads/")
        if branch in self.refs:
            return 422, {"message": "Reference already exists"}
        self.refs[branch] = body["sha"]
        return 201, {"object": {"sha": body["sha"]}}

    def _find_pulls(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        head = query.get("head", [""])[0].split(":")[-1]
        return [p for p in self.open_pulls() if not head or p["head"] == head]

    def _new_pull(self, body: Any) -> tuple[int, Any]:
        if any(p["head"] == body["head"] for p in self.open_pulls()):
            return 422, {"message": f"A pull request already exists for {self.owner}:{body['head']}."}
        number = len(self.pulls) + 1
        pull = {"number": number, "state": "open", "head": body["head"], "base": body["base"], "title": body["title"],
                "body": body["body"], "html_url": f"https://github.example.test/{self.owner}/{self.name}/pull/{number}"}  # fmt: skip
        self.pulls.append(pull)
        return 201, pull


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        repo: FakeRepo = self.server.state
        repo.seen.append((self.path, self.headers.get("Authorization")))
        moved = next((p for p in repo.redirects if self.path.startswith(p)), None)
        if moved is not None:
            self.send_response(307)
            self.send_header("Location", repo.redirects[moved] + self.path.removeprefix(moved))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if (
            repo.releases
            and self.command == "GET"
            and not self.path.startswith(f"/repos/{repo.owner}/{repo.name}")
        ):
            respond(self, repo.releases)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if self.headers.get("Authorization") != f"Bearer {repo.token}":
            status, answer = 401, {"message": "Bad credentials"}
        else:
            status, answer = repo.handle(self.command, self.path, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve


@contextmanager
def serve(repo: FakeRepo) -> Iterator[FakeRepo]:
    with running(_Handler, repo) as url:
        repo.url = url
        yield repo
