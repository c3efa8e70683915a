"""Python apps: the complete, hash-pinned dependency set of each app, per target platform.

Releases come from the pip index's project page (PEP 691 JSON, or PEP 503 HTML from an index
that only speaks that). Resolution is delegated to uv (``uv pip compile``): a real resolver,
fast, able to resolve for a platform other than this machine's, and able to write a PEP 751
lock whose wheel list is already narrowed to that platform, so the lockfile holds only hashes
that can be installed. The index is builder.yaml's, else the user's pip configuration, else
pip's own default, asked of pip at run time: no index host is written into this package.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from html.parser import HTMLParser
from importlib.metadata import version as installed_version
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from builder.config.platforms import Platform
from builder.config.settings import HttpSettings
from builder.errors import UpstreamError, UserError
from builder.kinds.python_app import PackageFile, Requirement, Requirements
from builder.locking.evidence import Evidence, IndexHash
from builder.locking.lockfile import LockedTool
from builder.plumbing.http import HttpStatusError
from builder.plumbing.pipconf import pip_index_url
from builder.plumbing.redact import redact
from builder.plumbing.workdir import scratch
from builder.sources.base import Release, dependency_cutoff
from builder.sources.signed import Signatures

if TYPE_CHECKING:
    from builder.config.catalogue import Tool
    from builder.sources.base import SourceDeps

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class PythonTarget:
    version: str  # "3.11"
    glibc: str  # "2.36"

    def uv_platform(self, platform: Platform) -> str:
        return f"{platform.machine}-manylinux_{self.glibc.replace('.', '_')}"


# Python 3.11's sysconfig fills its config variables lazily and not thread-safely: threads that
# first ask for them at the same moment can read None (a TypeError inside uv's find_uv_bin).
_SYSCONFIG = threading.Lock()


def _uv_binary() -> str:
    from uv import find_uv_bin  # imported late: only resolution needs it

    with _SYSCONFIG:
        return str(find_uv_bin())


@dataclass(frozen=True)
class Cooldown:
    """No file uploaded after ``before`` enters the resolution (uv's ``--exclude-newer``), except
    the files of ``exempt``: an exactly pinned app a person chose inside its cooldown."""

    before: datetime
    exempt: str | None = None
    now: datetime | None = None  # the exempt package's own limit

    def uv_args(self) -> list[str]:
        args = ["--exclude-newer", _rfc3339(self.before)]
        if self.exempt and self.now:
            args += ["--exclude-newer-package", f"{self.exempt}={_rfc3339(self.now)}"]
        return args


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_app(
    requirement: str,
    target: PythonTarget,
    platform: Platform,
    index_url: str | None,
    run: Runner = subprocess.run,
    timeout: float = HttpSettings.read_timeout,
    cooldown: Cooldown | None = None,
) -> tuple[Requirement, ...]:
    """Resolve one app (``name`` + specifier) for one platform; every pinned wheel with its hash.

    ``timeout``: seconds uv waits on a silent index (builder.yaml's ``http.read_timeout``);
    ``cooldown``: the newest upload any file of the dependency set may have.
    """
    with scratch("uv") as tmp:
        spec, out = tmp / "requirements.in", tmp / "pylock.toml"
        spec.write_text(requirement + "\n")
        argv = [_uv_binary(), "pip", "compile", str(spec), "-o", str(out), "--format", "pylock.toml",
                "--python-version", target.version, "--python-platform", target.uv_platform(platform),
                "--only-binary", ":all:", "--no-header", "--quiet", "--no-config",
                *(cooldown.uv_args() if cooldown else [])]  # fmt: skip
        env = {**_uv_environment(os.environ, index_url), "UV_HTTP_TIMEOUT": str(max(1, round(timeout)))}
        result = run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise _unresolved(requirement, platform, result.stderr, cooldown)
        return _requirements_from_pylock(tomllib.loads(out.read_text()))


def _unresolved(requirement: str, platform: Platform, stderr: str, cooldown: Cooldown | None) -> UserError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()] or ["no output"]
    waited = f" (files uploaded after {_rfc3339(cooldown.before)} wait out the cooldown)" if cooldown else ""
    return UserError(f"cannot resolve '{requirement}' for {platform}{waited}: {redact('; '.join(lines[:3]))}")


# Variables that would add an index or a file source beside the one builder chose: a package
# found there could shadow the index's (dependency confusion), so none reaches uv.
_UV_SOURCES = ("UV_INDEX", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
               "UV_INDEX_STRATEGY", "UV_NO_INDEX", "UV_KEYRING_PROVIDER")  # fmt: skip


def _uv_environment(env: Mapping[str, str], index_url: str | None) -> dict[str, str]:
    """uv's environment: the index (credentials and all) here, never on its command line, which
    every local user can read in /proc/<pid>/cmdline while uv runs; /proc/<pid>/environ is the
    owner's alone."""
    kept = {k: v for k, v in env.items() if k not in _UV_SOURCES and not k.startswith("UV_INDEX_")}
    return {**kept, "UV_NO_PROGRESS": "1", **({"UV_DEFAULT_INDEX": index_url} if index_url else {})}


def _requirements_from_pylock(data: Mapping[str, Any]) -> tuple[Requirement, ...]:
    out = []
    for package in data.get("packages", []):
        files = tuple(_wheel(w) for w in package.get("wheels", []))
        if not files:
            raise UserError(f"{package['name']} {package['version']} has no wheel for the target platform")
        out.append(
            Requirement(package["name"], package["version"], tuple(sorted(files, key=lambda f: f.file)))
        )
    return tuple(sorted(out, key=lambda r: r.name))


def _wheel(wheel: Mapping[str, Any]) -> PackageFile:
    # Keep the file name only: the lockfile pins by name, version and hash, never by URL.
    name = wheel.get("name") or PurePosixPath(urlsplit(wheel["url"]).path).name
    return PackageFile(name, wheel["hashes"]["sha256"], wheel.get("size"))


# PEP 691: JSON first; HTML (PEP 503) from an index that speaks nothing else.
_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
_INTEGRITY_ACCEPT = {"Accept": "application/vnd.pypi.integrity.v1+json"}
_DEFAULT_INDEX = "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"


def _default_index_url(run: Runner = subprocess.run) -> str:
    """pip's own default index, as the installed pip names it."""
    try:
        result = run(["python3", "-c", _DEFAULT_INDEX], capture_output=True, text=True)
    except OSError as e:
        raise UserError(f"cannot ask pip for its default index ({e.strerror}): set indexes.pip") from None
    url = result.stdout.strip() if result.returncode == 0 else ""
    if not url:
        raise UserError(
            "no pip index configured and pip cannot name its default: set indexes.pip in builder.yaml"
        )
    return url


@dataclass(frozen=True)
class Index:
    url: str  # may hold credentials: never shown unredacted
    described: str  # what the lockfile's origin says instead of the URL


@dataclass(frozen=True)
class _File:
    version: Version
    yanked: bool
    uploaded: datetime | None


class PyPISource:
    """Releases from the pip index's project page; locks resolved by uv for each platform."""

    def __init__(self, ctx: SourceDeps, run: Runner = subprocess.run) -> None:
        self.ctx, self.run = ctx, run

    @cached_property
    def index(self) -> Index:
        if self.ctx.base_urls.get("pypi"):
            return Index(self.ctx.url("pypi"), "the configured pip index")
        configured = pip_index_url(self.ctx.settings.pip_index, self.ctx.env, self.run)
        if configured:
            return Index(configured.rstrip("/"), "the configured pip index")
        return Index(_default_index_url(self.run).rstrip("/"), "pip's default index")

    def releases(self, tool: Tool) -> list[Release]:
        url = f"{self.index.url}/{canonicalize_name(tool.text('package'))}/"
        try:
            text = self.ctx.http.get_text(url, {"Accept": _ACCEPT})
        except UpstreamError as e:
            raise UpstreamError(f"{tool.name}: {e}") from None
        try:
            versions, files = _json_page(text) if text.lstrip().startswith("{") else ((), _html_page(text))
        except (ValueError, KeyError, TypeError) as e:
            raise UpstreamError(f"{tool.name}: GET {redact(url)}: unreadable project page ({e})") from None
        return _releases(versions, files)

    def lock(self, tool: Tool, release: Release, platforms: Sequence[Platform]) -> LockedTool:
        settings = self.ctx.settings
        target = PythonTarget(settings.python_version, settings.glibc)
        requirement = f"{_project(tool)}=={release.version}"
        timeout, cooldown = self.ctx.settings.http.read_timeout, self._cooldown(tool)
        requirements = {
            p: resolve_app(requirement, target, p, self.index.url, self.run, timeout, cooldown)
            for p in platforms
        }
        evidence = IndexHash(
            f"uv {installed_version('uv')}",
            f"CPython {target.version}, manylinux {target.glibc}",
            self.index.described,
        )
        signed = self._signatures(tool, release.version, requirements)
        return LockedTool(tool.name, release.version, Requirements(requirements, (evidence, *signed)))

    def _signatures(
        self, tool: Tool, version: str, requirements: Mapping[Platform, tuple[Requirement, ...]]
    ) -> tuple[Evidence, ...]:
        """The app's own files' PEP 740 attestations (its dependencies are hash-pinned, not signed)."""
        signatures = Signatures(self.ctx, tool, version)
        package = canonicalize_name(tool.text("package"))
        files = {f.file: f.sha256 for reqs in requirements.values() for r in reqs
                 if canonicalize_name(r.name) == package for f in r.files}  # fmt: skip
        found: list[Evidence] = list(signatures.none_published(f"{tool.text('package')} on the index"))
        if not signatures.wants("pep740"):
            return tuple(found)
        for name, sha256 in sorted(files.items()):
            found += signatures.over_distribution(name, sha256, self._provenance(package, version, name))
        return tuple(found)

    def _provenance(self, package: str, version: str, filename: str) -> bytes | None:
        """The file's PEP 740 provenance: where the project page links it, else PyPI's Integrity API."""
        declared = self._provenance_links(package)
        if filename in declared:
            link = declared[filename]
            return None if link is None else self.ctx.http.get_bytes(link, _INTEGRITY_ACCEPT)
        # ``<index host>/integrity/<project>/<version>/<file>/provenance``
        base = self._integrity_base()
        url = f"{base}/integrity/{package}/{version}/{filename}/provenance"
        try:
            return self.ctx.http.get_bytes(url, _INTEGRITY_ACCEPT)
        except HttpStatusError as e:
            if e.status == 404:
                return None
            raise

    def _integrity_base(self) -> str:
        configured = self.ctx.base_urls.get("pypi_integrity")
        return (configured or self.index.url.removesuffix("/simple")).rstrip("/")

    def _provenance_links(self, package: str) -> dict[str, str | None]:
        """PEP 740 links of the project page (None: the index says none was published).

        A link is the index's word, so it may only name a place on the index's own host or the
        configured Integrity API's, and it is fetched with their credentials, never its own.
        """
        page = f"{self.index.url}/{package}/"
        text = self.ctx.http.get_text(page, {"Accept": _ACCEPT})
        try:
            links = _json_links(text) if text.lstrip().startswith("{") else _html_links(text)
        except (ValueError, KeyError, TypeError) as e:
            raise UpstreamError(f"GET {redact(page)}: unreadable provenance links ({e})") from None
        homes = (page, self._integrity_base() + "/")
        return {name: None if link is None else _on_home(name, urljoin(page, link), homes)
                for name, link in links.items()}  # fmt: skip

    def _cooldown(self, tool: Tool) -> Cooldown | None:
        now = self.ctx.clock()
        before = dependency_cutoff(tool, now)
        if before is None:
            return None
        # An exact pin is taken even inside its cooldown (choose): its own files are exempt,
        # its dependencies' are not.
        exempt = tool.text("package") if tool.constraint.exact is not None else None
        return Cooldown(before, exempt, now)


def _project(tool: Tool) -> str:
    """The package with its extras, as a requirement names it: ``checkov[extra1,extra2]``."""
    extras = tool.words("extras")
    return tool.text("package") + (f"[{','.join(extras)}]" if extras else "")


def _json_page(text: str) -> tuple[Sequence[str], list[_File]]:
    data = json.loads(text)
    files = [_file(f["filename"], f.get("yanked", False), f.get("upload-time")) for f in data["files"]]
    return [str(v) for v in data.get("versions", [])], [f for f in files if f]


def _file(filename: str, yanked: object, uploaded: str | None) -> _File | None:
    version = _file_version(filename)
    if version is None:
        return None
    when = datetime.fromisoformat(uploaded) if uploaded else None
    if when and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # PEP 691 times are UTC
    return _File(version, yanked not in (None, False), when)


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None  # eggs, installers and other files no resolver here takes


class _Anchors(HTMLParser):
    """PEP 503: one anchor per file; its href names the file, ``data-yanked`` marks it yanked.

    PEP 740's ``data-provenance`` links the file's provenance.
    """

    def __init__(self) -> None:
        super().__init__()
        self.files: list[_File] = []
        self.provenance: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            name = unquote(PurePosixPath(urlsplit(found["href"] or "").path).name)
            file = _file(name, "data-yanked" in found, None)
            if file:
                self.files.append(file)
            if found.get("data-provenance"):
                self.provenance.append((name, found["data-provenance"]))


def _json_links(text: str) -> dict[str, str | None]:
    """PEP 740's optional ``provenance`` key of each file: a URL, or null for none published."""
    out: dict[str, str | None] = {}
    for entry in json.loads(text)["files"]:
        if "provenance" not in entry:
            continue
        link = entry["provenance"]
        if link is not None and not isinstance(link, str):
            raise TypeError(f"{entry['filename']}: provenance is {type(link).__name__}, not a URL or null")
        out[str(entry["filename"])] = link
    return out


def _html_links(text: str) -> dict[str, str | None]:
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    return dict(parser.provenance)


def _on_home(filename: str, url: str, homes: Sequence[str]) -> str:
    """``url`` with the netloc of the home it belongs to; refused when it belongs to none."""
    got = urlsplit(url)
    for home in map(urlsplit, homes):
        if (got.scheme, got.hostname, got.port) == (home.scheme, home.hostname, home.port):
            return urlunsplit((home.scheme, home.netloc, got.path, got.query, ""))
    raise UpstreamError(
        f"the index links {filename}'s provenance to {redact(url)}, outside the index and the "
        "Integrity API: refused (a mirror must serve it from its own host or upstreams.pypi_integrity)"
    )


def _html_page(text: str) -> list[_File]:
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    return parser.files


def _releases(versions: Iterable[str], files: Iterable[_File]) -> list[Release]:
    """One release per version: yanked when every file of it is (or it has none)."""
    grouped: dict[Version, list[_File]] = {}
    labels: dict[Version, str] = {}  # the version as the index spells it, where it says
    for text in versions:
        try:
            labels.setdefault(Version(text), text)
        except InvalidVersion:
            continue
        grouped.setdefault(Version(text), [])
    for file in files:
        grouped.setdefault(file.version, []).append(file)
    out = []
    for version, group in sorted(grouped.items()):
        times = [f.uploaded for f in group if f.uploaded]
        out.append(Release(labels.get(version, str(version)), min(times, default=None), version.is_prerelease,
                           all(f.yanked for f in group)))  # fmt: skip
    return out
