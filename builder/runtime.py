"""One wiring for both fronts: (project, environment) -> every client a command needs.

The CLI and the Lambda handler used to make their own HTTP clients, stores and boto3 clients,
and drifted (the Lambda sent releases requests without the GitHub token; one boto3 client
ignored BUILDER_CODEARTIFACT_ENDPOINT). Both now make one Runtime and ask it; it holds no
global state and makes each client at most once.

Environment it reads (every front): GITHUB_TOKEN, or BUILDER_GITHUB_TOKEN, or the Secrets
Manager secret BUILDER_GITHUB_TOKEN_SECRET_ARN; BUILDER_GITHUB_API (the API the token is for;
default builder.yaml's ``upstreams.github_api``); BUILDER_OSV_API (likewise ``upstreams.osv``);
BUILDER_KEYS_DIR; BUILDER_*_ENDPOINT
(builder/plumbing/aws.py); BUILDER_DOCKER and what builder.yaml's npmrc and pip settings name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.config.project import Project
from builder.errors import UserError
from builder.plumbing import aws
from builder.plumbing.credentials import Credential, github_credentials
from builder.plumbing.limits import HttpSettings
from builder.stores.local import LocalStore

if TYPE_CHECKING:
    from builder.attesting.kms import KmsClient
    from builder.auditing.osv import Database
    from builder.building.engine import DockerClient
    from builder.building.secrets import BuildSecrets
    from builder.plumbing.http import HttpClient
    from builder.sources.base import Source, SourceDeps
    from builder.stores.base import ArtifactStore, RepositoryStore
    from builder.stores.codeartifact import CodeArtifactStore
    from builder.updating.pull_requests import GitHubClient
    from builder.updating.trust_refresh import TrustRefresh
    from builder.updating.updater import Mirror

_PACKAGE_KEYS = Path(__file__).resolve().parent / "data" / "keys"


def _user_cache(env: Mapping[str, str]) -> Path:
    """The user's cache folder for builder (artifacts, HTTP revalidation data)."""
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path(env.get("HOME", "~")) / ".cache"
    return (base / "builder").expanduser()


def _trusted_keys(env: Mapping[str, str]) -> Path:
    """The OpenPGP keys signatures are checked against: BUILDER_KEYS_DIR, else those shipped."""
    return Path(env.get("BUILDER_KEYS_DIR") or _PACKAGE_KEYS)


def github_token(env: Mapping[str, str]) -> str | None:
    """The GitHub token, from the environment or the Secrets Manager secret it names."""
    for name in ("BUILDER_GITHUB_TOKEN", "GITHUB_TOKEN"):
        if env.get(name):
            return env[name].strip()
    arn = env.get("BUILDER_GITHUB_TOKEN_SECRET_ARN")
    if not arn:
        return None
    client = aws.client("secretsmanager", env)
    try:
        return str(client.get_secret_value(SecretId=arn)["SecretString"]).strip()
    except Exception as e:  # botocore's errors and worse: name the secret, never its value
        raise UserError(f"cannot read the GitHub token from {arn}: {type(e).__name__}") from None


def github_api(project: Project | None, env: Mapping[str, str]) -> str:
    if env.get("BUILDER_GITHUB_API"):
        return env["BUILDER_GITHUB_API"].rstrip("/")
    return project.settings.upstreams["github_api"] if project else "https://api.github.com"


def github_client(api: str, repository: str, token: str, limits: HttpSettings | None = None) -> GitHubClient:
    """The pull-request client (the Lambda needs one before it has a project to read settings from)."""
    from builder.plumbing.http import make_session
    from builder.updating.pull_requests import GitHubClient

    limits = limits or HttpSettings()
    return GitHubClient(make_session(retries=limits.retries), api, repository, token, limits)


class Runtime:
    """The clients of one run of one project: made on first use, the same ones after."""

    def __init__(
        self,
        project: Project,
        env: Mapping[str, str],
        cache: Path | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``cache``: where HTTP revalidation data and (unless builder.yaml names a path) the local
        store live: by default the user's cache folder; the invocation's /tmp folder in a Lambda.
        ``clock``: the time cooldowns are measured from, for the choice of release and of dependencies."""
        self.project, self.env, self.cache = project, env, cache or _user_cache(env)
        self.settings, self.clock = project.settings, clock

    @property
    def keys_dir(self) -> Path:
        """The trusted keys (OpenPGP keyrings, the Sigstore trusted root and its TUF root)."""
        return _trusted_keys(self.env)

    def trust_refresh(self) -> TrustRefresh | None:
        """The Sigstore trusted root an update refreshes: only one kept in the project's repository
        (a keys folder inside it), as a pull request can only change the repository's files."""
        from builder.updating.trust_refresh import TrustRefresh

        keys, root = self.keys_dir.resolve(), self.project.root.resolve()
        if not keys.is_relative_to(root):
            return None
        path = keys.relative_to(root).as_posix()
        return TrustRefresh(self.settings.upstreams["sigstore_tuf"], keys, "" if path == "." else path)

    @functools.cached_property
    def token(self) -> str | None:
        return github_token(self.env)

    @functools.cached_property
    def credentials(self) -> tuple[Credential, ...]:
        """The GitHub token, for its API and below: no other port, path or scheme of its host."""
        return github_credentials(github_api(self.project, self.env), self.token)

    @functools.cached_property
    def http(self) -> HttpClient:
        from builder.plumbing.http import HttpClient, make_session

        return HttpClient(make_session(), cache_dir=self.cache / "http", credentials=self.credentials,
                          limits=self.settings.http)  # fmt: skip

    @functools.cached_property
    def local_store(self) -> LocalStore:
        """Verified downloads land here, whatever the store: builder.yaml's path, else the cache."""
        path = self.settings.store.path
        return LocalStore(Path(path).expanduser() if path else self.cache / "artifacts")

    def store(self) -> ArtifactStore:
        """The configured store: the one place a store kind becomes a store."""
        return self.codeartifact() if self.settings.store.kind == "codeartifact" else self.local_store

    @functools.cache  # noqa: B019 - one per Runtime, which lives for one run
    def codeartifact(self) -> RepositoryStore:
        return self._codeartifact("builder")

    @functools.cache  # noqa: B019 - one per Runtime, which lives for one run
    def osv_packages(self) -> CodeArtifactStore:
        """The CodeArtifact store's ``osv`` namespace, where `builder store osv` mirrors OSV's archives."""
        from builder.auditing.osv_packages import NAMESPACE

        return self._codeartifact(NAMESPACE)

    def _codeartifact(self, namespace: str) -> CodeArtifactStore:
        from builder.stores.codeartifact import CodeArtifactStore

        ca = self.settings.store.codeartifact
        if ca is None:
            raise UserError("this needs store.codeartifact in builder.yaml (or BUILDER_CODEARTIFACT_*)")
        return CodeArtifactStore(aws.client("codeartifact", self.env, ca.region), ca, namespace)

    @functools.cached_property
    def kms(self) -> KmsClient:
        """The KMS client provenance is signed and checked with (the environment's region)."""
        client: KmsClient = aws.client("kms", self.env)
        return client

    @functools.cached_property
    def docker(self) -> DockerClient:
        """The BuildKit-capable docker client: builder.yaml's, else BUILDER_DOCKER, else found."""
        from builder.building.client_memo import remembered_client

        return remembered_client(self.settings.docker_client, self.env, self.cache)

    def build_secrets(self, folder: Path) -> BuildSecrets:
        """What a build hands BuildKit as secrets (index credentials), written under ``folder``."""
        from builder.building.secrets import codeartifact_secrets, user_secrets

        if self.settings.store.kind == "codeartifact":
            return codeartifact_secrets(self.codeartifact(), folder)
        return user_secrets(self.settings, self.env, folder)

    def source_deps(self, work: Path) -> SourceDeps:
        from builder.sources.base import SourceDeps

        return SourceDeps(self.http, self.settings, self.settings.upstreams, self.keys_dir,
                             work, self.local_store, dict(self.env), self.clock)  # fmt: skip

    def sources(self, work: Path, tools: tuple[str, ...] = ()) -> dict[str, Source]:
        """One instance of each source the named tools (all, by default) come from; ``work``: scratch."""
        from builder.sources import make_sources

        wanted = {self.project.tools[name].source for name in (tools or tuple(self.project.tools))}
        return make_sources(self.source_deps(work), wanted)

    def releases_without_token(self) -> str | None:
        """Why releases are read anonymously although there is a token, if they are."""
        releases = self.settings.upstreams["github_api"]
        if self.token and not any(c.scope.covers(releases) for c in self.credentials):
            api = github_api(self.project, self.env)
            return f"releases on {releases} are read without the token (it is for {api})"
        return None

    def osv(self, offline: Path | None = None) -> Database:
        """Vulnerability records: the archives in ``offline``, else the OSV API: BUILDER_OSV_API
        (a Lambda's mirror), else builder.yaml's ``upstreams.osv``."""
        from builder.auditing.osv import OsvApi, OsvArchive

        if offline:
            return OsvArchive(offline)
        return OsvApi(self.http, self.env.get("BUILDER_OSV_API") or self.settings.upstreams["osv"])

    def security_hub(self, region: str) -> Any:
        return aws.client("securityhub", self.env, region)

    def mirror(self) -> Mirror:
        from builder.updating.updater import Mirror

        return Mirror(self.local_store, self.codeartifact())

    def github(self, repository: str) -> GitHubClient:
        if not self.token:
            raise UserError("--open-pr needs a GitHub token in GITHUB_TOKEN")
        return github_client(github_api(self.project, self.env), repository, self.token, self.settings.http)
