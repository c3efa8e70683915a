"""The CodeArtifact store: locked artifacts as generic packages in the team's CodeArtifact domain.

Naming scheme (one package version per tool version, one asset per platform):

    domain / generic repository   settings.store.codeartifact (``domain``, ``generic_repository``)
    format                        ``generic``
    namespace                     ``builder`` (the ``namespace`` argument)
    package                       the tool name, e.g. ``trivy``
    version                       the tool version, e.g. ``0.50.0``
    asset                         the artifact's file name, e.g. ``trivy_0.50.0_Linux-64bit.tar.gz``

Every asset is published with its sha256 and ``unfinished=True``: a version keeps taking the assets
of further platforms while it is Unfinished, and CodeArtifact refuses new assets once a version is
Published. Whoever has put every platform of a version (``builder store init``, the updater) calls
``finish(tool, version)``, which moves it to Published with ``update_package_versions_status``.
Only Published versions count for ``prune``; reading (``has``, ``copy_to``) works in either state.

An asset already there with the same sha256 is never published again; different bytes under the
same name raise ``StoreConflict`` and nothing is overwritten. Every botocore error is turned into a
one-line ``StoreError`` that says what to do; tokens and credentials never appear in messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from builder.config.settings import CodeArtifact
from builder.config.versions import numeric
from builder.errors import ChecksumError, Mismatch, UserError
from builder.plumbing.aws import SETUP_ERRORS
from builder.plumbing.fsutil import CHUNK, sha256_file
from builder.plumbing.redact import redact
from builder.stores.base import ArtifactRef, RepositoryCheck

_FORMAT = "generic"
_NAMESPACE = "builder"
_MISSING_PACKAGE = {"package", "package-version", "asset"}
_SECRETISH = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|(?:Credential|Signature|X-Amz-Security-Token)=\S+")
_SETUP = (
    "run `builder store init`, or check the codeartifact settings in builder.yaml "
    "(domain, domain_owner, region, repositories)"
)


class StoreError(UserError):
    """A CodeArtifact call failed; the message says what to do."""


@dataclass(frozen=True)
class StoreConflictInfo:
    tool: str
    version: str
    asset: str
    stored: str | None  # sha256 already in the store; None when the version is Published without it
    ours: str


class StoreConflict(StoreError):
    """The store holds other bytes under the artifact's name, or the version is closed to new assets."""

    def __init__(self, info: StoreConflictInfo) -> None:
        super().__init__(info.asset)
        self.info = info

    def __str__(self) -> str:
        i = self.info
        where = f"{i.tool} {i.version} asset {i.asset}"
        if i.stored is None:
            return (
                f"CodeArtifact refused {where} (sha256 {i.ours}): the version is already Published and takes "
                "no new assets; publish under a new version or dispose of the old one first"
            )
        return (
            f"CodeArtifact already holds {where} with sha256 {i.stored}, ours is {i.ours}: "
            "refusing to overwrite; find out which bytes are right before disposing of the stored version"
        )


class CodeArtifactStore:
    name = "codeartifact"

    def __init__(self, client: Any, settings: CodeArtifact, namespace: str = _NAMESPACE) -> None:
        """``client`` is a boto3 ``codeartifact`` client (retries are configured on it)."""
        self.client = client
        self.settings = settings
        self.namespace = namespace

    # ---- the ArtifactStore protocol

    def has(self, ref: ArtifactRef) -> bool:
        return self._stored_sha256(ref) == ref.sha256

    def stored_sha256(self, ref: ArtifactRef) -> str | None:
        """The sha256 CodeArtifact reports for the asset, None when it is not there."""
        return self._stored_sha256(ref)

    def put(self, ref: ArtifactRef, verified: Path) -> None:
        _check(ref, verified, "on its way into CodeArtifact")
        stored = self._stored_sha256(ref)
        if stored == ref.sha256:
            return
        if stored is not None:
            raise StoreConflict(
                StoreConflictInfo(ref.tool, ref.version, ref.artifact.file, stored, ref.sha256)
            )
        try:
            with verified.open("rb") as body:
                self._call(
                    "publish_package_version",
                    str(ref),
                    **self._asset_params(ref),
                    assetContent=body,
                    assetSHA256=ref.sha256,
                    unfinished=True,
                )
        except StoreError as error:
            if _code(error) != "ConflictException":
                raise
            self._explain_conflict(ref, error)

    def copy_to(self, ref: ArtifactRef, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        reply = self._call("get_package_version_asset", str(ref), **self._asset_params(ref, "asset"))
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".incoming-{dest.name}.")
        tmp = Path(name)
        try:
            digest = _stream(reply["asset"], fd)
            if digest != ref.sha256:
                raise ChecksumError(
                    Mismatch(ref.tool, str(ref.platform), ref.sha256, digest),
                    f"{ref.artifact.file} from CodeArtifact repository {self.settings.generic_repository}",
                )
            tmp.replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # ---- versions

    def finish(self, tool: str, version: str) -> bool:
        """Mark an Unfinished version Published once all its assets are in; False if it was not Unfinished."""
        reply = self._call(
            "update_package_versions_status",
            f"{tool} {version}",
            **self._package(tool),
            versions=[version],
            expectedStatus="Unfinished",
            targetStatus="Published",
        )
        return version in reply.get("successfulVersions", {})

    def versions(self, tool: str) -> list[tuple[str, str]]:
        """Every version of a tool with its status (Published, Unfinished, Disposed, ...), oldest first."""
        try:
            pages = self._pages("list_package_versions", tool, **self._package(tool))
            found = [(v["version"], v["status"]) for v in pages]
        except StoreError as error:
            if _code(error) == "ResourceNotFoundException" and _resource(error) == "package":
                return []
            raise
        return sorted(found, key=lambda item: _order(item[0]))

    def prune(self, tool: str, keep: int, protect: tuple[str, ...] = ()) -> list[str]:
        """Dispose of all but the newest ``keep`` Published versions; returns the versions disposed.

        Versions that are not plain release numbers (prereleases, odd tags) are left alone, and so
        are the ``protect``ed ones (the versions the lockfile still uses)."""
        if keep < 1:
            raise StoreError(
                f"--keep must be at least 1 (got {keep}): keeping nothing would make rollback impossible"
            )
        published = [
            v for v, status in self.versions(tool) if status == "Published" and numeric(v) is not None
        ]
        old = [v for v in published[: max(len(published) - keep, 0)] if v not in protect]
        disposed: list[str] = []
        for start in range(0, len(old), 100):
            disposed += self._dispose(tool, old[start : start + 100])
        return disposed

    def _dispose(self, tool: str, versions: list[str]) -> list[str]:
        reply = self._call(
            "dispose_package_versions",
            tool,
            **self._package(tool),
            versions=versions,
            expectedStatus="Published",
        )
        failed = reply.get("failedVersions", {})
        if failed:
            reasons = ", ".join(f"{v} ({e.get('errorCode')})" for v, e in sorted(failed.items()))
            raise StoreError(
                f"CodeArtifact did not dispose of {tool} {reasons}; run `builder store prune` again"
            )
        return sorted(reply.get("successfulVersions", {}), key=_order)

    # ---- single files under this store's namespace (OSV's archives)

    def publish_file(self, package: str, version: str, path: Path) -> str:
        """Publish ``path`` as the one asset of a new Published version; returns its sha256."""
        digest = sha256_file(path)
        with path.open("rb") as body:
            self._call(
                "publish_package_version",
                f"{self.namespace}/{package} {version}",
                **self._package(package),
                packageVersion=version,
                assetName=path.name,
                assetContent=body,
                assetSHA256=digest,
            )
        return digest

    def fetch_file(self, package: str, version: str, asset: str, dest: Path) -> None:
        """Write an asset to ``dest`` only if its bytes hash to the sha256 CodeArtifact reports."""
        subject = f"{self.namespace}/{package} {version} {asset}"
        reported = self._asset_sha256(package, version, asset)
        if reported is None:
            raise StoreError(f"CodeArtifact has no {subject}")
        params = {**self._package(package), "packageVersion": version, "asset": asset}
        reply = self._call("get_package_version_asset", subject, **params)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".incoming-{dest.name}.")
        tmp = Path(name)
        try:
            digest = _stream(reply["asset"], fd)
            if digest != reported:
                raise ChecksumError(
                    Mismatch(package, version, reported, digest), f"{subject} from CodeArtifact"
                )
            tmp.replace(dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # ---- tokens, endpoints, repositories

    def authorization_token(self) -> str:
        """A token for pip/npm, valid for ``token_duration`` seconds; pass it on, never log it."""
        reply = self._call(
            "get_authorization_token",
            self.settings.domain,
            **self._domain(),
            durationSeconds=self.settings.token_duration,
        )
        return str(reply["authorizationToken"])

    def endpoint(self, package_format: str) -> str:
        repository = self._repository_for(package_format)
        reply = self._call(
            "get_repository_endpoint",
            f"{repository} ({package_format})",
            **self._domain(),
            repository=repository,
            format=package_format,
        )
        return str(reply["repositoryEndpoint"])

    def check_repositories(self) -> list[RepositoryCheck]:
        """Whether the generic, pypi and npm repositories answer ``describe_repository``."""
        checks = []
        for role in ("generic", "pypi", "npm"):
            repository = self._repository_for(role)
            try:
                self._call("describe_repository", repository, **self._domain(), repository=repository)
                checks.append(RepositoryCheck(role, repository, None))
            except StoreError as error:
                checks.append(RepositoryCheck(role, repository, str(error)))
        return checks

    # ---- helpers

    def _repository_for(self, package_format: str) -> str:
        repositories = {
            "generic": self.settings.generic_repository,
            "pypi": self.settings.pypi_repository,
            "npm": self.settings.npm_repository,
        }
        if package_format not in repositories:
            raise StoreError(
                f"no repository for format '{package_format}' (expected one of: generic, npm, pypi)"
            )
        return repositories[package_format]

    def _domain(self) -> dict[str, str]:
        return {"domain": self.settings.domain, "domainOwner": self.settings.domain_owner}

    def _package(self, tool: str) -> dict[str, str]:
        return {
            **self._domain(),
            "repository": self.settings.generic_repository,
            "format": _FORMAT,
            "namespace": self.namespace,
            "package": tool,
        }

    def _asset_params(self, ref: ArtifactRef, asset_key: str = "assetName") -> dict[str, str]:
        return {**self._package(ref.tool), "packageVersion": ref.version, asset_key: ref.artifact.file}

    def _stored_sha256(self, ref: ArtifactRef) -> str | None:
        return self._asset_sha256(ref.tool, ref.version, ref.artifact.file)

    def _asset_sha256(self, package: str, version: str, name: str) -> str | None:
        params = {**self._package(package), "packageVersion": version}
        try:
            for asset in self._pages("list_package_version_assets", package, **params):
                if asset["name"] == name:
                    return str(asset["hashes"]["SHA-256"])
        except StoreError as error:
            if _code(error) == "ResourceNotFoundException" and _resource(error) in _MISSING_PACKAGE:
                return None
            raise
        return None

    def _explain_conflict(self, ref: ArtifactRef, error: StoreError) -> None:
        """A 409 on publish: a concurrent identical put is fine; anything else is a conflict."""
        stored = self._stored_sha256(ref)
        if stored != ref.sha256:
            info = StoreConflictInfo(ref.tool, ref.version, ref.artifact.file, stored, ref.sha256)
            raise StoreConflict(info) from error

    def _pages(self, operation: str, tool: str, **params: Any) -> Iterator[dict[str, Any]]:
        key = "versions" if operation == "list_package_versions" else "assets"
        try:
            for page in self.client.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        except (ClientError, BotoCoreError, *SETUP_ERRORS) as error:
            raise _wrap(error, operation, tool, self.settings) from error

    def _call(self, operation: str, subject: str, **params: Any) -> Any:
        try:
            method: Callable[..., Any] = getattr(self.client, operation)
            return method(**params)
        except (ClientError, BotoCoreError, *SETUP_ERRORS) as error:
            raise _wrap(error, operation, subject, self.settings) from error


# ---- error wrapping


def _code(error: StoreError) -> str:
    cause = error.__cause__
    return str(cause.response["Error"].get("Code", "")) if isinstance(cause, ClientError) else ""


def _resource(error: StoreError) -> str:
    cause = error.__cause__
    return str(cause.response.get("resourceType", "")) if isinstance(cause, ClientError) else ""


def _clean(text: str) -> str:
    return _SECRETISH.sub("****", redact(" ".join(str(text).split())))


def _wrap(error: Exception, operation: str, subject: str, settings: CodeArtifact) -> StoreError:
    call = f"CodeArtifact {operation} for {subject}"
    if not isinstance(error, ClientError):
        return StoreError(
            f"{call} failed: {_clean(str(error))}; check the AWS region, network and credentials"
        )
    code = str(error.response["Error"].get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    message = _clean(error.response["Error"].get("Message", ""))
    return StoreError(f"{call} failed: {_advice(code, status, message, error.response, settings)}")


def _advice(code: str, status: int, message: str, response: dict[str, Any], settings: CodeArtifact) -> str:
    if code.startswith(("ExpiredToken", "UnrecognizedClient", "InvalidSignature", "InvalidClientToken")):
        return (
            f"the AWS credentials were rejected ({code}, 403): "
            "refresh your AWS credentials (e.g. `aws sso login`) and retry"
        )
    if code == "AccessDeniedException" or status == 403:
        return (
            "access denied (403): the AWS identity in use needs codeartifact permissions "
            f"on domain {settings.domain}"
        )
    if code == "ThrottlingException" or status == 429:
        tries = int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        return f"throttled (429) after {tries} attempts: wait a minute and retry, or use fewer --jobs"
    if code == "ResourceNotFoundException" or status == 404:
        return f"not found (404: {message}): {_SETUP}"
    if code == "ConflictException" or status == 409:
        return f"conflict (409: {message})"
    if status >= 500:
        return f"CodeArtifact had an internal error ({status}) after retries: retry later"
    return f"{code or status}: {message}"


def _check(ref: ArtifactRef, path: Path, where: str) -> None:
    actual = sha256_file(path)
    if actual != ref.sha256:
        raise ChecksumError(
            Mismatch(ref.tool, str(ref.platform), ref.sha256, actual), f"{ref.artifact.file} {where}"
        )


def _stream(body: Any, fd: int) -> str:
    digest = hashlib.sha256()
    with open(fd, "wb") as out:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _order(version: str) -> tuple[int, tuple[int, ...], str]:
    numbers = numeric(version)
    return (0, (), version) if numbers is None else (1, numbers, version)
