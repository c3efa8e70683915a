"""Project settings (builder.yaml): artifact store, registry, platforms, base images, indexes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from builder.config import names
from builder.config.document import Node, load_yaml, one_of
from builder.config.platforms import Platform, read_platforms
from builder.errors import ConfigError
from builder.plumbing.limits import HttpSettings as HttpSettings  # re-exported: builder.yaml's http:

_STORE_KINDS = ("codeartifact", "local")
# Where release metadata comes from (not package registries: those come from pip's and npm's own
# configuration). Override any of them under `upstreams:` in builder.yaml, e.g. for a mirror.
_UPSTREAMS = {
    "github_api": "https://api.github.com",
    # Where the API's release assets may be (GitHub Enterprise: its API's own host, always allowed).
    "github_downloads": "https://github.com",
    "hashicorp_releases": "https://releases.hashicorp.com",
    "hashicorp_checkpoint": "https://checkpoint-api.hashicorp.com",
    "nodejs": "https://nodejs.org",
    "rekor": "https://rekor.sigstore.dev",  # looked up for a detached cosign signature's log entry
    "sigstore_tuf": "https://tuf-repo-cdn.sigstore.dev",  # `refresh-trusted-root`, the updater
    "osv": "https://api.osv.dev",  # `builder audit`: querybatch and records
    "osv_archive": "https://osv-vulnerabilities.storage.googleapis.com",  # `builder store osv`
}
_DOMAIN = re.compile(r"^[a-z][a-z0-9\-]{0,48}[a-z0-9]$")
_OWNER = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,99}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_IMAGE_REF = re.compile(  # [host[:port]/]path[:tag], as Docker spells a reference (the digest is apart)
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)
_REGISTRY = re.compile(r"^[a-z0-9]+([._:/-][a-z0-9]+)*$")


@dataclass(frozen=True)
class CodeArtifact:
    domain: str
    domain_owner: str
    region: str
    generic_repository: str = "generic-store"
    pypi_repository: str = "pip-store"
    npm_repository: str = "npm-store"
    token_duration: int = 900


@dataclass(frozen=True)
class Store:
    kind: str = "local"
    path: str = ""  # empty: the user's cache directory
    codeartifact: CodeArtifact | None = None


@dataclass(frozen=True)
class BaseImage:
    ref: str
    digest: str | None = None

    @property
    def pinned(self) -> str:
        return f"{self.ref}@{self.digest}" if self.digest else self.ref


@dataclass(frozen=True)
class Provenance:
    """builder.yaml's ``provenance:``: the KMS key that signs each built image's provenance."""

    kms_key: str | None = None  # None: `builder provenance` needs --key, or writes nothing
    algorithm: str = "ECDSA_SHA_256"


_KMS_KEY = re.compile(
    r"^(alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f-]{36}|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+)$"
)
_SIGNING = ("ECDSA_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256")

_HTTP_SECONDS = ("connect_timeout", "read_timeout", "request_timeout", "download_timeout", "run_timeout")


@dataclass(frozen=True)
class Settings:
    store: Store = field(default_factory=Store)
    registry: str = "builder"
    platforms: tuple[Platform, ...] = (Platform("linux", "amd64"), Platform("linux", "arm64"))
    base_images: dict[str, BaseImage] = field(default_factory=dict)
    python_version: str = "3.11"
    glibc: str = "2.36"
    pip_index: str | None = None  # None: the user's own pip configuration decides
    npm_registry: str | None = None  # None: the user's own npm configuration decides
    docker_client: str | None = None
    docker_network: str | None = None  # e.g. "host", to reach an index on this machine
    upstreams: dict[str, str] = field(default_factory=lambda: dict(_UPSTREAMS))
    http: HttpSettings = field(default_factory=HttpSettings)
    provenance: Provenance = field(default_factory=Provenance)
    # `audit: {offline: true}`: audit from the OSV archives `builder store osv` mirrored, not the
    # API (an air-gapped CodeBuild); the rendered buildspecs say --offline.
    audit_offline: bool = False


_TOP = ("store", "registry", "platforms", "base_images", "python", "indexes", "docker", "upstreams", "http",
        "provenance", "audit")  # fmt: skip


def load_settings(root: Path) -> Settings:
    fields = load_yaml(root / "builder.yaml", "builder.yaml").root().mapping(_TOP)
    python = fields["python"].mapping(["version", "glibc"]) if "python" in fields else {}
    indexes = fields["indexes"].mapping(["pip", "npm"]) if "indexes" in fields else {}
    docker = fields["docker"].mapping(["client", "network"]) if "docker" in fields else {}
    defaults = Settings()
    return Settings(
        store=_store(fields["store"]) if "store" in fields else defaults.store,
        registry=_matching(fields["registry"], _REGISTRY, "an image name prefix such as "
                           "'123456789012.dkr.ecr.us-east-1.amazonaws.com/scanners'")
        if "registry" in fields else defaults.registry,
        platforms=read_platforms(fields["platforms"]) if "platforms" in fields else defaults.platforms,
        base_images=_base_images(fields["base_images"]) if "base_images" in fields else {},
        python_version=_matching(python["version"], re.compile(r"^3\.\d+$"), "'3.11'")
        if "version" in python else defaults.python_version,
        glibc=_matching(python["glibc"], re.compile(r"^2\.\d+$"), "'2.36'")
        if "glibc" in python else defaults.glibc,
        pip_index=_optional_url(indexes.get("pip")),
        npm_registry=_optional_url(indexes.get("npm")),
        docker_client=_optional_text(docker.get("client")),
        docker_network=_network(docker.get("network")),
        upstreams={**_UPSTREAMS, **(_upstreams(fields["upstreams"]) if "upstreams" in fields else {})},
        http=_http(fields["http"]) if "http" in fields else defaults.http,
        provenance=_provenance(fields["provenance"]) if "provenance" in fields else defaults.provenance,
        audit_offline=_audit_offline(fields["audit"]) if "audit" in fields else defaults.audit_offline,
    )  # fmt: skip


def _provenance(node: Node) -> Provenance:
    fields = node.mapping(["kms_key", "algorithm"], required=["kms_key"])
    key = _matching(
        fields["kms_key"], _KMS_KEY, "a KMS key alias such as 'alias/builder-provenance', a key id or ARN"
    )
    algorithm = fields["algorithm"].text() if "algorithm" in fields else Provenance.algorithm
    if algorithm not in _SIGNING:
        raise fields["algorithm"].error(f"unknown signing algorithm '{algorithm}' ({one_of(_SIGNING)})")
    return Provenance(key, algorithm)


def _audit_offline(node: Node) -> bool:
    return node.mapping(["offline"], required=["offline"])["offline"].boolean()


def _network(node: Node | None) -> str | None:
    if node is None or node.value is None:
        return None
    return _matching(node, _NETWORK, "a Docker network name such as 'host'")


def _optional_text(node: Node | None) -> str | None:
    return None if node is None or node.value is None else node.text()


def _matching(node: Node, pattern: re.Pattern[str], expected: str) -> str:
    value = node.text()
    if not pattern.match(value):
        raise node.error(f"'{value}' is not valid (expected {expected})")
    return value


def _store(node: Node) -> Store:
    fields = node.mapping(["kind", "path", "codeartifact"], required=["kind"])
    kind = fields["kind"].text()
    if kind not in _STORE_KINDS:
        raise fields["kind"].error(f"unknown store kind '{kind}' ({one_of(_STORE_KINDS)})")
    codeartifact = _codeartifact(fields["codeartifact"]) if "codeartifact" in fields else None
    if kind == "codeartifact" and codeartifact is None:
        raise node.error("store kind 'codeartifact' needs a 'codeartifact' section")
    path = fields["path"].text() if "path" in fields else ""
    return Store(kind, path, codeartifact)


def _codeartifact(node: Node) -> CodeArtifact:
    keys = ("domain", "domain_owner", "region", "repositories", "token_duration")
    fields = node.mapping(keys, required=["domain", "domain_owner", "region"])
    repos = _repositories(fields["repositories"]) if "repositories" in fields else {}
    duration = fields["token_duration"].integer() if "token_duration" in fields else 900
    if not 900 <= duration <= 43200:
        raise fields["token_duration"].error(
            f"{duration} is out of range (expected seconds from 900 (15 min) to 43200 (12 h))"
        )
    return CodeArtifact(
        domain=_matching(fields["domain"], _DOMAIN, "2-50 of a-z, 0-9 and '-', starting with a letter"),
        domain_owner=_matching(fields["domain_owner"], _OWNER, "a 12-digit AWS account id, quoted"),
        region=_matching(fields["region"], _REGION, "an AWS region such as 'us-east-1'"),
        token_duration=duration,
        **repos,
    )


def _repositories(node: Node) -> dict[str, str]:
    fields = node.mapping(["generic", "pypi", "npm"])
    expected = "2-100 of A-Z, a-z, 0-9, '.', '_', '-'"
    return {f"{k}_repository": _matching(v, _REPOSITORY, expected) for k, v in fields.items()}


def _base_images(node: Node) -> dict[str, BaseImage]:
    out = {}
    for name, child in node.entries():
        fields = child.mapping(["ref", "digest"], required=["ref"])
        digest = None
        if "digest" in fields and fields["digest"].value is not None:
            digest = _matching(fields["digest"], _DIGEST, "'sha256:' and 64 lowercase hex digits")
        child.checked(lambda value: names.check("label", value), name)
        ref = _matching(fields["ref"], _IMAGE_REF, "an image reference such as 'debian:bookworm-slim'")
        out[name] = BaseImage(ref, digest)
    return out


def _http(node: Node) -> HttpSettings:
    fields = node.mapping([*_HTTP_SECONDS, "retries"])
    values: dict[str, float] = {key: _seconds(fields[key]) for key in _HTTP_SECONDS if key in fields}
    retries = fields["retries"].integer() if "retries" in fields else HttpSettings.retries
    if not 0 <= retries <= 10:
        raise fields["retries"].error(f"{retries} is out of range (expected 0 to 10)")
    return HttpSettings(**values, retries=retries)


def _seconds(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise node.error(f"'{value}' is not a number of seconds (expected more than 0, at most 86400)")
    return float(value)


# Upstreams with no default: the Integrity API serving PEP 740 provenance (PyPI's host, when the
# pip index is a mirror without one, e.g. CodeArtifact); unset, it is asked of the pip index's host.
_OPTIONAL_UPSTREAMS = ("pypi_integrity",)


def _upstreams(node: Node) -> dict[str, str]:
    fields = node.mapping(sorted((*_UPSTREAMS, *_OPTIONAL_UPSTREAMS)))
    return {key: url for key, child in fields.items() if (url := _optional_url(child))}


def _optional_url(node: Node | None) -> str | None:
    if node is None or node.value is None:
        return None
    url = node.text()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.path):
        raise node.error(f"'{url}' is not a URL")
    if parts.username or parts.password:
        # builder.yaml is committed: credentials belong in the user's pip/npm configuration.
        raise node.error("credentials do not belong here: keep them in your pip or npm configuration")
    return url


# CodeBuild projects and the Lambda name their CodeArtifact domain and repositories in the
# environment; each variable overrides builder.yaml's value, which fills the rest.
_ENV_CODEARTIFACT = {
    "domain": "BUILDER_CODEARTIFACT_DOMAIN",
    "domain_owner": "BUILDER_CODEARTIFACT_DOMAIN_OWNER",
    "region": "BUILDER_CODEARTIFACT_REGION",
    "generic_repository": "BUILDER_GENERIC_REPOSITORY",
    "pypi_repository": "BUILDER_PIP_REPOSITORY",
    "npm_repository": "BUILDER_NPM_REPOSITORY",
}


def store_from_environment(store: Store, env: Mapping[str, str]) -> Store:
    """``store`` with the environment's CodeArtifact settings, when BUILDER_CODEARTIFACT_DOMAIN is set."""
    if not env.get(_ENV_CODEARTIFACT["domain"]):
        return store
    base = store.codeartifact
    values: dict[str, str] = {}
    for field_name, variable in _ENV_CODEARTIFACT.items():
        value = env.get(variable) or (getattr(base, field_name) if base else "")
        if value:
            values[field_name] = value
        elif field_name in ("domain_owner", "region"):
            missing = f"not set in the environment, nor store.codeartifact.{field_name} in builder.yaml"
            raise ConfigError(variable, missing)
    duration = base.token_duration if base else CodeArtifact("", "", "").token_duration
    return Store("codeartifact", store.path, CodeArtifact(**values, token_duration=duration))
