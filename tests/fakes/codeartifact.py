"""A local AWS CodeArtifact double: rest-json over HTTP on 127.0.0.1, checked against botocore's model.

boto3 reaches it through ``endpoint_url``. Requests are routed and decoded with botocore's own service
model, loaded at run time: every scalar input comes from the query string (or a header) under its
wire name, list/structure inputs from the JSON body, and the publish body is the raw asset. Every
input is validated as the service does (required members, min/max lengths and ranges, patterns,
enums), which botocore's client-side validation does not fully do (it checks only required and min).
Service rules the model cannot express are enforced here too: the namespace is required for the
generic format, only generic can be published, an asset name follows the generic naming rules,
re-publishing an asset name with different bytes is a conflict, and a Published version takes no new
assets. Errors are the real shapes: ``x-amzn-ErrorType`` plus a JSON body with ``message``.

Assumptions where the service's behaviour is not documented: re-publishing identical bytes to an
Unfinished version succeeds; an ``x-amz-content-sha256`` that disagrees with the body is a
ValidationException; model patterns must match the whole value.

Failure injection: ``state.fail("PublishPackageVersion", "throttle", times=3)`` makes the next three
calls of that operation answer 429 (``expired`` 403 ExpiredTokenException, ``denied`` 403
AccessDeniedException, ``throttle`` 429 with Retry-After, ``internal`` 500). Every request is
recorded in ``state.calls``; ``state.tamper(...)`` serves other bytes for an asset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from tests.fakes.server import StateServer

OWNER = "111122223333"
REGION = "eu-west-1"
TOKEN = "local-double-token-c2VjcmV0LXRva2Vu"
_NEEDS_NAMESPACE = {"generic", "maven", "swift"}
_ASSET_SPECIALS = set("~!@^&()-`_+[]{};,. ")
_LETTERS_DIGITS = {"Ll", "Lm", "Lo", "Lt", "Lu", "Nl", "Nd"}
_SETTABLE = {"Published", "Unlisted", "Archived"}
_FAILURES = {
    "expired": (403, "ExpiredTokenException", "The security token included in the request is expired"),
    "denied": (403, "AccessDeniedException", "User is not authorized to perform this action"),
    "throttle": (429, "ThrottlingException", "Rate exceeded"),
    "internal": (500, "InternalServerException", "An internal error occurred"),
}


class ServiceError(Exception):
    """One error reply: HTTP status, error type and JSON body fields."""

    def __init__(self, status: int, kind: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.fields = status, kind, message, fields


def validation(message: str) -> ServiceError:
    return ServiceError(400, "ValidationException", message, reason="FIELD_VALIDATION_FAILED")


def not_found(kind: str, name: str) -> ServiceError:
    message = f"{kind.replace('-', ' ').capitalize()} {name} not found"
    return ServiceError(404, "ResourceNotFoundException", message, resourceId=name, resourceType=kind)


def conflict(kind: str, name: str, message: str) -> ServiceError:
    return ServiceError(409, "ConflictException", message, resourceId=name, resourceType=kind)


# ---------------------------------------------------------------- state


@dataclass
class Asset:
    name: str
    data: bytes

    def hashes(self) -> dict[str, str]:
        return {
            "MD5": hashlib.md5(self.data).hexdigest(),
            "SHA-1": hashlib.sha1(self.data).hexdigest(),
            "SHA-256": hashlib.sha256(self.data).hexdigest(),
            "SHA-512": hashlib.sha512(self.data).hexdigest(),
        }

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "size": len(self.data), "hashes": self.hashes()}


@dataclass
class Version:
    version: str
    status: str
    revision: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    assets: dict[str, Asset] = field(default_factory=dict)
    published_time: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "revision": self.revision,
            "status": self.status,
            "origin": {"originType": "INTERNAL"},
        }


PackageKey = tuple[str, str, str, str, str]  # domain, repository, format, namespace, package


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]
    status: int


@dataclass
class CodeArtifactState:
    owner: str = OWNER
    region: str = REGION
    token: str = TOKEN
    domains: dict[str, dict[str, float]] = field(default_factory=dict)  # domain -> repository -> created
    packages: dict[PackageKey, dict[str, Version]] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    tampered: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    model: ServiceModel = field(
        default_factory=lambda: botocore.session.get_session().get_service_model("codeartifact")
    )

    def create(self, domain: str, *repositories: str) -> None:
        """Set up a domain and repositories directly (tests may also use CreateDomain/CreateRepository)."""
        repos = self.domains.setdefault(domain, {})
        for name in repositories:
            repos.setdefault(name, time.time())

    def fail(self, operation: str, kind: str, times: int = 1) -> None:
        if kind not in _FAILURES:
            raise ValueError(f"unknown failure '{kind}' (expected one of: {', '.join(sorted(_FAILURES))})")
        self.failures.setdefault(operation, []).extend([kind] * times)

    def tamper(self, package: str, version: str, asset: str, data: bytes) -> None:
        """Serve ``data`` instead of the stored bytes of one asset (hashes still report the stored ones)."""
        self.tampered[(package, version, asset)] = data

    def operations(self, name: str | None = None) -> list[Call]:
        return [c for c in self.calls if name is None or c.operation == name]

    def versions_of(self, package: str) -> dict[str, Version]:
        found = [v for key, v in self.packages.items() if key[4] == package]
        return found[0] if found else {}


# ---------------------------------------------------------------- model-driven decoding and validation


def _pattern_ok(pattern: str, value: str) -> bool:
    """Full match of a model pattern; ``\\P{C}`` (no control/format/unassigned) is not in ``re``."""
    if "\\P{C}" in pattern:
        value = "".join("\x00" if unicodedata.category(c).startswith("C") else c for c in value)
        pattern = pattern.replace("\\P{C}", "[^\\x00]")
    return re.fullmatch(pattern, value) is not None


def _constraint(value: Any, where: str, text: str) -> str:
    return f"Value '{value}' at '{where}' failed to satisfy constraint: {text}"


def _check_string(shape: Shape, value: str, where: str) -> list[str]:
    meta, problems = shape.metadata, []
    if shape.enum and value not in shape.enum:
        problems.append(_constraint(value, where, f"Member must satisfy enum value set: {shape.enum}"))
    if "min" in meta and len(value) < meta["min"]:
        problems.append(
            _constraint(value, where, f"Member must have length greater than or equal to {meta['min']}")
        )
    if "max" in meta and len(value) > meta["max"]:
        problems.append(
            _constraint(value, where, f"Member must have length less than or equal to {meta['max']}")
        )
    if "pattern" in meta and not _pattern_ok(meta["pattern"], value):
        problems.append(
            _constraint(value, where, f"Member must satisfy regular expression pattern: {meta['pattern']}")
        )
    return problems


def _check_number(shape: Shape, value: Any, where: str) -> list[str]:
    meta = shape.metadata
    if not isinstance(value, int) or isinstance(value, bool):
        return [_constraint(value, where, "Member must be a number")]
    if "min" in meta and value < meta["min"]:
        return [_constraint(value, where, f"Member must have value greater than or equal to {meta['min']}")]
    if "max" in meta and value > meta["max"]:
        return [_constraint(value, where, f"Member must have value less than or equal to {meta['max']}")]
    return []


def _check_collection(shape: Shape, value: Any, where: str) -> list[str]:
    meta, problems = shape.metadata, []
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [_constraint(value, where, "Member must be a list")]
        for i, item in enumerate(value):
            problems += check(shape.member, item, f"{where}.{i + 1}.member")
    else:
        if not isinstance(value, dict):
            return [_constraint(value, where, "Member must be a map")]
        for key, item in value.items():
            problems += check(shape.key, key, f"{where}.key")
            problems += check(shape.value, item, f"{where}.{key}")
    if "min" in meta and len(value) < meta["min"]:
        problems.append(
            _constraint("...", where, f"Member must have length greater than or equal to {meta['min']}")
        )
    if "max" in meta and len(value) > meta["max"]:
        problems.append(
            _constraint("...", where, f"Member must have length less than or equal to {meta['max']}")
        )
    return problems


def check(shape: Shape, value: Any, where: str) -> list[str]:
    """Every constraint ``value`` breaks, in the service's ``Value '...' at '...'`` wording."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [_constraint(value, where, "Member must be a structure")]
        problems = [
            f"Value null at '{name}' failed to satisfy constraint: Member must not be null"
            for name in shape.required_members
            if value.get(name) is None
        ]
        for name, member in shape.members.items():
            if value.get(name) is not None:
                problems += check(member, value[name], name if not where else f"{where}.{name}")
        return problems
    if shape.type_name == "string":
        return (
            _check_string(shape, value, where)
            if isinstance(value, str)
            else [_constraint(value, where, "Member must be a string")]
        )
    if shape.type_name in ("integer", "long"):
        return _check_number(shape, value, where)
    if shape.type_name in ("list", "map"):
        return _check_collection(shape, value, where)
    return []


def _scalar(shape: Shape, text: str) -> Any:
    if shape.type_name == "boolean":
        if text not in ("true", "false"):
            raise validation(f"Cannot parse '{text}' as a boolean")
        return text == "true"
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise validation(f"Cannot parse '{text}' as a number") from None
    return text


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def decode(operation: OperationModel, request: Request) -> dict[str, Any]:
    """The operation's input as botocore built it: query, header, JSON body or raw payload members."""
    shape = operation.input_shape
    payload = shape.serialization.get("payload")
    params: dict[str, Any] = {}
    body: dict[str, Any] = {}
    if request.body and not payload:
        try:
            body = json.loads(request.body)
        except ValueError:
            raise ServiceError(
                400, "ValidationException", "Cannot parse the request body", reason="CANNOT_PARSE"
            ) from None
    for name, member in shape.members.items():
        location, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if location == "querystring" and wire in request.query:
            params[name] = _scalar(member, request.query[wire][0])
        elif location == "header" and wire.lower() in request.headers:
            params[name] = _scalar(member, request.headers[wire.lower()])
        elif name == payload:
            params[name] = request.body
        elif location is None and name in body:
            params[name] = body[name]
    problems = check(shape, params, "")
    if problems:
        count = len(problems)
        raise validation(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
        )
    return params


# ---------------------------------------------------------------- operations


def _paged(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    start = 0
    if "nextToken" in params:
        try:
            start = int(base64.urlsafe_b64decode(params["nextToken"]).decode())
        except (ValueError, UnicodeDecodeError):
            raise validation("Invalid pagination token") from None
    end = start + params.get("maxResults", 50)
    token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], token


def _check_asset_name(name: str) -> None:
    """The generic format's asset-name rules (letters, digits, listed specials; spaces only inside, single)."""
    bad = [c for c in name if c not in _ASSET_SPECIALS and unicodedata.category(c) not in _LETTERS_DIGITS]
    if bad or name in (".", "..") or name != name.strip(" ") or "  " in name:
        raise validation(f"Asset name '{name}' is not valid for the generic format")


class Service:
    """Each ``op_<Operation>`` takes validated params and returns (headers, JSON body or raw bytes)."""

    def __init__(self, state: CodeArtifactState) -> None:
        self.state = state

    # -- lookups
    def _domain(self, params: dict[str, Any]) -> dict[str, float]:
        domain = params["domain"]
        if (
            params.get("domainOwner", self.state.owner) != self.state.owner
            or domain not in self.state.domains
        ):
            raise not_found("domain", domain)
        return self.state.domains[domain]

    def _repository(self, params: dict[str, Any]) -> str:
        if params["repository"] not in self._domain(params):
            raise not_found("repository", params["repository"])
        return str(params["repository"])

    def _package_key(self, params: dict[str, Any]) -> PackageKey:
        self._repository(params)
        if params["format"] in _NEEDS_NAMESPACE and "namespace" not in params:
            raise validation(f"namespace is required for the {params['format']} format")
        return (
            params["domain"],
            params["repository"],
            params["format"],
            params.get("namespace", ""),
            params["package"],
        )

    def _versions(self, params: dict[str, Any]) -> dict[str, Version]:
        key = self._package_key(params)
        if key not in self.state.packages:
            raise not_found("package", params["package"])
        return self.state.packages[key]

    def _version(self, params: dict[str, Any]) -> Version:
        versions = self._versions(params)
        if params["packageVersion"] not in versions or versions[params["packageVersion"]].status == "Deleted":
            raise not_found("package-version", params["packageVersion"])
        return versions[params["packageVersion"]]

    def _repository_description(self, params: dict[str, Any]) -> dict[str, Any]:
        domain, name = params["domain"], params["repository"]
        arn = f"arn:aws:codeartifact:{self.state.region}:{self.state.owner}:repository/{domain}/{name}"
        return {
            "name": name,
            "administratorAccount": self.state.owner,
            "domainName": domain,
            "domainOwner": self.state.owner,
            "arn": arn,
            "upstreams": [],
            "externalConnections": [],
            "createdTime": self.state.domains[domain][name],
        }

    # -- domains, repositories, tokens, endpoints
    def op_CreateDomain(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["domain"] in self.state.domains:
            raise conflict("domain", params["domain"], f"Domain {params['domain']} already exists")
        self.state.domains[params["domain"]] = {}
        arn = f"arn:aws:codeartifact:{self.state.region}:{self.state.owner}:domain/{params['domain']}"
        return {
            "domain": {
                "name": params["domain"],
                "owner": self.state.owner,
                "arn": arn,
                "status": "Active",
                "createdTime": time.time(),
                "repositoryCount": 0,
                "assetSizeBytes": 0,
            }
        }

    def op_CreateRepository(self, params: dict[str, Any]) -> dict[str, Any]:
        repos = self._domain(params)
        if params["repository"] in repos:
            raise conflict(
                "repository", params["repository"], f"Repository {params['repository']} already exists"
            )
        repos[params["repository"]] = time.time()
        return {"repository": self._repository_description(params)}

    def op_DescribeRepository(self, params: dict[str, Any]) -> dict[str, Any]:
        self._repository(params)
        return {"repository": self._repository_description(params)}

    def op_GetAuthorizationToken(self, params: dict[str, Any]) -> dict[str, Any]:
        self._domain(params)
        duration = params.get("durationSeconds", 43200)
        if 0 < duration < 900:
            raise validation(f"durationSeconds must be 0 or between 900 and 43200, got {duration}")
        return {"authorizationToken": self.state.token, "expiration": time.time() + (duration or 3600)}

    def op_GetRepositoryEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        repo = self._repository(params)
        host = f"{params['domain']}-{self.state.owner}.d.codeartifact.{self.state.region}.amazonaws.com"
        return {"repositoryEndpoint": f"https://{host}/{params['format']}/{repo}/"}

    # -- package versions
    def op_PublishPackageVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["format"] != "generic":
            raise validation("Only generic packages can be published with PublishPackageVersion")
        key, data, name = self._package_key(params), params["assetContent"], params["assetName"]
        _check_asset_name(name)
        if hashlib.sha256(data).hexdigest() != params["assetSHA256"]:
            raise validation("The SHA-256 hash in x-amz-content-sha256 does not match the asset content")
        versions = self.state.packages.setdefault(key, {})
        version = versions.setdefault(
            params["packageVersion"], Version(params["packageVersion"], "Unfinished")
        )
        _add_asset(version, Asset(name, data))
        if not params.get("unfinished"):
            version.status, version.published_time = "Published", time.time()
        return {
            "format": "generic",
            "namespace": key[3],
            "package": key[4],
            "version": version.version,
            "versionRevision": version.revision,
            "status": version.status,
            "asset": version.assets[name].summary(),
        }

    def op_ListPackageVersionAssets(self, params: dict[str, Any]) -> dict[str, Any]:
        version = self._version(params)
        page, token = _paged([a.summary() for a in version.assets.values()], params)
        reply = {
            "format": params["format"],
            "namespace": params.get("namespace"),
            "package": params["package"],
            "version": version.version,
            "versionRevision": version.revision,
            "assets": page,
        }
        return reply | ({"nextToken": token} if token else {})

    def op_GetPackageVersionAsset(self, params: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        version = self._version(params)
        if params["asset"] not in version.assets:
            raise not_found("asset", params["asset"])
        if params.get("packageVersionRevision", version.revision) != version.revision:
            raise not_found(
                "package-version", f"{version.version} revision {params['packageVersionRevision']}"
            )
        data = version.assets[params["asset"]].data
        data = self.state.tampered.get((params["package"], version.version, params["asset"]), data)
        headers = {
            "X-AssetName": params["asset"],
            "X-PackageVersion": version.version,
            "X-PackageVersionRevision": version.revision,
            "Content-Type": "application/octet-stream",
        }
        return headers, data

    def op_DescribePackageVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        v = self._version(params)
        return {
            "packageVersion": {
                "format": params["format"],
                "namespace": params.get("namespace"),
                "packageName": params["package"],
                "displayName": params["package"],
                "version": v.version,
                "publishedTime": v.published_time,
                "licenses": [],
                "revision": v.revision,
                "status": v.status,
                "origin": {"originType": "INTERNAL"},
            }
        }

    def op_ListPackageVersions(self, params: dict[str, Any]) -> dict[str, Any]:
        versions = sorted(self._versions(params).values(), key=lambda v: v.published_time)
        wanted = [v.summary() for v in versions if params.get("status", v.status) == v.status]
        page, token = _paged(wanted, params)
        reply = {
            "format": params["format"],
            "namespace": params.get("namespace"),
            "package": params["package"],
            "versions": page,
        }
        return reply | ({"nextToken": token} if token else {})

    def op_UpdatePackageVersionsStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["targetStatus"] not in _SETTABLE:
            raise validation(
                f"targetStatus must be one of {sorted(_SETTABLE)}; use DisposePackageVersions to dispose"
            )

        def change(version: Version) -> None:
            if version.status == "Disposed":
                raise _Refused("NOT_ALLOWED", "A disposed package version cannot change status")
            if params["targetStatus"] == "Published" and version.status != "Published":
                version.published_time = time.time()
            version.status = params["targetStatus"]

        return self._each_version(params, change)

    def op_DisposePackageVersions(self, params: dict[str, Any]) -> dict[str, Any]:
        def dispose(version: Version) -> None:
            if version.status == "Disposed":
                raise _Refused("SKIPPED", "Package version is already disposed")
            version.assets.clear()
            version.status = "Disposed"

        return self._each_version(params, dispose)

    def _each_version(self, params: dict[str, Any], act: Callable[[Version], None]) -> dict[str, Any]:
        versions, done, failed = self._versions(params), {}, {}
        revisions = params.get("versionRevisions", {})
        for name in params["versions"]:
            version = versions.get(name)
            try:
                if version is None:
                    raise _Refused("NOT_FOUND", f"Package version {name} not found")
                if params.get("expectedStatus", version.status) != version.status:
                    raise _Refused("MISMATCHED_STATUS", f"Package version {name} is {version.status}")
                if revisions.get(name, version.revision) != version.revision:
                    raise _Refused("MISMATCHED_REVISION", f"Package version {name} has another revision")
                act(version)
                done[name] = {"revision": version.revision, "status": version.status}
            except _Refused as refused:
                failed[name] = {"errorCode": refused.code, "errorMessage": refused.message}
        return {"successfulVersions": done, "failedVersions": failed}


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _add_asset(version: Version, asset: Asset) -> None:
    if version.status != "Unfinished":
        raise conflict(
            "package-version",
            version.version,
            f"Package version {version.version} is {version.status} and cannot accept new assets",
        )
    existing = version.assets.get(asset.name)
    if existing is not None and existing.data != asset.data:
        raise conflict(
            "asset",
            asset.name,
            f"Asset {asset.name} already exists in package version {version.version} with different content",
        )
    version.assets[asset.name] = asset


# ---------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        state: CodeArtifactState = self.server.state
        with state.lock:
            status, headers, body = answer(state, request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _route(model: ServiceModel, request: Request) -> OperationModel | None:
    for name in model.operation_names:
        operation = model.operation_model(name)
        if (
            operation.http["method"] == request.method
            and operation.http["requestUri"].split("?")[0] == request.path
        ):
            return operation
    return None


def _error(error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-amzn-ErrorType": error.kind, "Content-Type": "application/json"}
    if error.kind == "ExpiredTokenException":
        headers["x-amzn-ErrorType"] += ":http://internal.amazon.com/coral/com.amazon.coral.service/"
    if error.status == 429:
        headers["Retry-After"] = "1"
    return error.status, headers, json.dumps({"message": error.message, **error.fields}).encode()


def answer(state: CodeArtifactState, request: Request) -> tuple[int, dict[str, str], bytes]:
    operation = _route(state.model, request)
    name = operation.name if operation else f"{request.method} {request.path}"
    params: dict[str, Any] = {}
    try:
        if operation is None:
            raise ServiceError(404, "UnknownOperationException", f"No operation at {name}")
        if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
            raise ServiceError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        pending = state.failures.get(name)
        if pending:
            status, kind, message = _FAILURES[pending.pop(0)]
            raise ServiceError(status, kind, message)
        params = decode(operation, request)
        reply = getattr(Service(state), f"op_{name}")(params)
    except ServiceError as error:
        state.calls.append(Call(name, _loggable(params), error.status))
        return _error(error)
    state.calls.append(Call(name, _loggable(params), 200))
    if isinstance(reply, tuple):
        headers, data = reply
        return 200, headers, data
    return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"<{len(v)} bytes>" if isinstance(v, bytes) else v) for k, v in params.items()}


@contextmanager
def codeartifact_double(state: CodeArtifactState | None = None) -> Iterator[tuple[str, CodeArtifactState]]:
    """Serve a CodeArtifact double; yields (endpoint URL, state). Polls shutdown often so tests end fast."""
    state = state or CodeArtifactState()
    server = StateServer(("127.0.0.1", 0), _Handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def make_client(url: str, retries: int = 1) -> Any:
    """A boto3 codeartifact client at the double: standard retry mode, ``retries`` retries after the first try.

    Needs AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set (tests set dummies with monkeypatch)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": retries, "mode": "standard"}, connect_timeout=5, read_timeout=10)
    return boto3.client("codeartifact", region_name=REGION, endpoint_url=url, config=config)
