"""npm tools: the whole installed tree of a package, each entry pinned by its sha512 integrity.

Releases come from the registry's packument. The tool's own tarball is downloaded and checked
against the registry's ``dist.integrity``; the tree is resolved by npm itself (``npm install
--package-lock-only``): the same resolver that ``npm ci`` in the image will trust. Download
URLs are dropped so any registry serves it. The registry is builder.yaml's, else npm's own
configuration (``npm config get registry``): no registry host is written into this package.

A private registry (CodeArtifact's npm repository, a corporate mirror) wants ``Authorization:
Bearer <token>``. The token is read as npm reads it, from the user's npmrc (which ``aws
codeartifact login --tool npm`` writes), and sent only to URLs under the host and path it is
written for; ``npm install`` reads the same file itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from builder.config.platforms import Platform
from builder.config.versions import numeric
from builder.errors import ChecksumError, Mismatch, ProgramMissing, UpstreamError, UserError
from builder.kinds.npm_package import NpmPackage, NpmTree
from builder.locking.evidence import NpmIntegrity
from builder.locking.lockfile import LockedTool
from builder.plumbing.fsutil import CHUNK
from builder.plumbing.http import HttpStatusError
from builder.plumbing.json_answer import Answer
from builder.plumbing.npmrc import TOKEN_KEY, NpmAuth, nerf_darts, npmrc_path, read_npm_auth
from builder.plumbing.redact import redact
from builder.plumbing.workdir import scratch
from builder.sources.base import Release, dependency_cutoff

if TYPE_CHECKING:
    from builder.config.catalogue import Tool
    from builder.sources.base import SourceDeps

Runner = Callable[..., subprocess.CompletedProcess[str]]
_KEEP = ("dependencies", "optionalDependencies", "peerDependencies", "bin", "optional", "os", "cpu")


def _npm(args: list[str], cwd: Path, registry: str | None, run: Runner, options: Sequence[str] = ()) -> str:
    # --logs-max=0: npm's debug log would keep, unredacted, whatever a registry's error quoted (a token).
    quiet = ["--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier", "--logs-max=0"]
    argv = ["npm", *args, *quiet, *options]
    if registry:
        argv += ["--registry", registry]
    try:
        result = run(argv, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        missing = f"npm is not installed here (builder runs `npm {args[0]}` for npm tools)"
        raise ProgramMissing(missing) from None
    except OSError as e:
        raise UserError(f"cannot run npm {args[0]}: {e.strerror} (is npm installed?)") from None
    if result.returncode != 0:
        raise UserError(f"npm {args[0]} failed: {redact(_npm_error(result.stderr))}")
    return result.stdout


_ERROR_PREFIXES = ("npm error ", "npm ERR! ")  # npm 10+, and older
_NOISE = ("A complete log", "at ", "code ", "syscall ", "errno ", "Log files")


def _npm_error(stderr: str) -> str:
    """The line of npm's error report that says what went wrong (not its code, stack or log path)."""
    lines = [line.strip() for line in stderr.splitlines()]
    said = [line.removeprefix(p).strip() for line in lines for p in _ERROR_PREFIXES if line.startswith(p)]
    code = next((line.removeprefix("code ") for line in said if line.startswith("code ")), None)
    useful = [
        line for line in said if line and (line.startswith("404 Not Found") or not line.startswith(_NOISE))
    ]
    detail = useful[0] if useful else next((line for line in lines if line), "no output")
    return f"{detail} ({code})" if code else detail


def latest_version(package: str, spec: str, registry: str | None, run: Runner = subprocess.run) -> str:
    with scratch("npm") as tmp:
        out = _npm(["view", f"{package}@{spec}", "version", "--json"], tmp, registry, run)
    found = json.loads(out)
    versions = [str(v) for v in (found if isinstance(found, list) else [found])]
    if not versions:
        raise UserError(f"npm has no version of {package} matching '{spec}'")
    return max(versions, key=lambda v: numeric(v) or ())


def resolve_tree(
    package: str,
    version: str,
    registry: str | None,
    run: Runner = subprocess.run,
    options: Sequence[str] = (),
) -> tuple[NpmPackage, ...]:
    """The whole tree npm installs for ``package@version``; ``options`` go to npm (``--fetch-retries=0``)."""
    with scratch("npm") as folder:
        manifest = {"name": "builder-resolve", "version": "0.0.0", "private": True}
        (folder / "package.json").write_text(json.dumps(manifest))
        _npm(
            ["install", "--package-lock-only", "--save-exact", f"{package}@{version}"],
            folder,
            registry,
            run,
            options,
        )
        lock = json.loads((folder / "package-lock.json").read_text())
    return packages_from_lock(lock)


def packages_from_lock(lock: Mapping[str, Any]) -> tuple[NpmPackage, ...]:
    out = []
    for path, entry in sorted(lock.get("packages", {}).items()):
        if not path:
            continue
        if "integrity" not in entry:
            raise UserError(f"npm lock entry {path} has no integrity: cannot pin it")
        extra = {k: entry[k] for k in _KEEP if k in entry}
        out.append(NpmPackage(path, entry["version"], entry["integrity"], extra))
    return tuple(out)


# The full packument: the abbreviated one (application/vnd.npm.install-v1+json) has no `time`.
_ACCEPT = "application/json"


class IntegrityError(ChecksumError):
    """A tarball's sha512 differs from the registry's ``dist.integrity``."""

    def __str__(self) -> str:
        m = self.mismatch
        return (
            f"sha512 integrity mismatch for {m.tool} ({m.platform}) {self.subject}: "
            f"expected {m.expected}, got {m.actual}"
        )


def _configured_registry(run: Runner = subprocess.run) -> str:
    """npm's own registry setting (the user's .npmrc, or npm's default)."""
    try:
        result = run(["npm", "config", "get", "registry"], capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"cannot ask npm for its registry ({e.strerror}): set indexes.npm") from None
    url = result.stdout.strip() if result.returncode == 0 else ""
    if not url.startswith(("http://", "https://")):
        raise UserError(
            "no npm registry configured and npm cannot name its own: set indexes.npm in builder.yaml"
        )
    return url


class NpmSource:
    """Releases from the registry's packument; locks from the checked tarball and npm's own tree."""

    def __init__(
        self, ctx: SourceDeps, run: Runner = subprocess.run, npm_options: Sequence[str] = ()
    ) -> None:
        self.ctx, self.run, self.npm_options = ctx, run, tuple(npm_options)

    @cached_property
    def registry(self) -> str:
        if self.ctx.base_urls.get("npm"):
            return self.ctx.url("npm")
        return (self.ctx.settings.npm_registry or _configured_registry(self.run)).rstrip("/")

    @cached_property
    def auth(self) -> NpmAuth:
        return read_npm_auth(npmrc_path(self.ctx.env), self.ctx.env)

    def releases(self, tool: Tool) -> list[Release]:
        document = self._packument(tool)
        times = document["time"]
        stamps = {} if times.absent else times.members()
        return [
            _release(v, entry, stamps.get(v)) for v, entry in sorted(document["versions"].members().items())
        ]

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        package, version = tool.text("package"), release.version
        entry = self._packument(tool)["versions"][version]
        if entry.absent:
            raise UpstreamError(f"{tool.name}: the npm registry has no {package} {version}")
        self._check_tarball(tool, version, entry["dist"])
        # The npmrc this source read its token from, even when only the context's env names it.
        # npm's own requests: the same bound as builder's (its default waits 5 minutes per request).
        fetch_timeout = f"--fetch-timeout={round(self.ctx.settings.http.request_timeout * 1000)}"
        options = (*self.npm_options, fetch_timeout, "--userconfig", str(self.auth.npmrc),
                   *self._before(tool, release))  # fmt: skip
        tree = resolve_tree(package, version, f"{self.registry}/", self.run, options)
        return LockedTool(tool.name, version, NpmTree(tree, (NpmIntegrity("npm ci"),)))

    def _before(self, tool: Tool, release: Release) -> list[str]:
        """npm's ``--before``: no package of the tree published after the cooldown began. An exact
        pin is taken even inside its cooldown (choose): then nothing newer than the pinned release."""
        before = dependency_cutoff(tool, self.ctx.clock())
        if before is None:
            return []
        if tool.constraint.exact is not None and release.published and release.published > before:
            before = release.published
        return [f"--before={before.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.000Z')}"]

    def _packument(self, tool: Tool) -> Answer:
        url = f"{self.registry}/{quote(tool.text('package'), safe='@')}"
        try:
            document = self.ctx.http.get_json(url, self._headers(url, {"Accept": _ACCEPT}))
        except UpstreamError as e:
            raise UpstreamError(f"{tool.name}: {e}{self._login_hint(url, e)}") from None
        if not isinstance(document, dict) or not isinstance(document.get("versions"), dict):
            raise UpstreamError(f"{tool.name}: GET {redact(url)}: not a packument (no 'versions')")
        return Answer(document, f"{tool.name}: GET {redact(url)}")

    def _check_tarball(self, tool: Tool, version: str, dist: Answer) -> None:
        package = tool.text("package")
        listed = not dist.absent and not dist["tarball"].absent and not dist["integrity"].absent
        expected = _sha512(dist["integrity"].text()) if listed else None
        if not expected:
            raise UpstreamError(f"{tool.name}: {package} {version} has no tarball with a sha512 integrity")
        # Any host, as npm itself allows (a mirror may keep tarballs elsewhere): the token goes only
        # where the npmrc scopes it, and the client never reaches a link-local address.
        url = dist["tarball"].link()
        self.ctx.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="npm-", dir=self.ctx.work_dir) as tmp:
            try:
                got = self.ctx.http.download(url, Path(tmp) / "package.tgz", self._headers(url, {}))
            except UpstreamError as e:
                raise UpstreamError(f"{tool.name}: {e}{self._login_hint(url, e)}") from None
            actual = _integrity(got.path)
        if actual != expected:
            raise IntegrityError(
                Mismatch(package, "npm", expected, actual), f"tarball of {package} {version}"
            )

    def _headers(self, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus the npmrc token whose host and path ``url`` is under, if any."""
        found = self.auth.match(url)
        return {**headers, "Authorization": f"Bearer {found[1]}"} if found else dict(headers)

    def _login_hint(self, url: str, error: UpstreamError) -> str:
        """For a 401/403: which npmrc line was used, or which one is missing (never the token)."""
        if not isinstance(error, HttpStatusError) or error.status not in (401, 403):
            return ""
        auth, found = self.auth, self.auth.match(url)
        if found:
            return f": the registry refused the token for {found[0]} in {auth.npmrc} (expired? log in again)"
        unset = next(((d, auth.unset[d]) for d in nerf_darts(url) if d in auth.unset), None)
        if unset:
            return f": the token for {unset[0]} in {auth.npmrc} is ${{{unset[1]}}}, which is not set"
        # Name the line npm users write: the registry's own, unless the URL is on another host.
        under = url.startswith(self.registry + "/")
        dart = next(nerf_darts(self.registry + "/" if under else url))
        return f": it asks for a login, and {auth.npmrc} has no '{dart}{TOKEN_KEY}=...' line"


def _release(version: str, entry: Answer, published: Answer | None) -> Release:
    deprecated = entry["deprecated"]  # a message, or (from some registries) true
    return Release(
        version=version,
        published=_time(published) if published is not None else None,
        prerelease="-" in version,
        yanked=not deprecated.absent and deprecated.value not in (False, ""),
    )


def _time(stamp: Answer) -> datetime:
    try:
        parsed = datetime.fromisoformat(stamp.text())
    except ValueError:
        raise stamp.error("an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sha512(integrity: str) -> str | None:
    """The sha512 entry of an SRI string (it may list several hashes)."""
    return next((part for part in integrity.split() if part.startswith("sha512-")), None)


def _integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()
