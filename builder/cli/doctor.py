"""`builder doctor`: is everything builder needs here, and what to do about what is not."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from builder.config.project import Project
from builder.errors import BuilderError
from builder.plumbing.redact import redact


@dataclass(frozen=True)
class Finding:
    area: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.area:<13} {self.detail}"


def diagnose(project: Project, env: Mapping[str, str], session: Any) -> Iterator[Finding]:
    yield _check("docker", lambda: _docker(project, env))
    yield _check("registry", lambda: _registry(project, env))
    if project.settings.store.kind == "codeartifact":
        yield _check("aws", lambda: _aws_credentials(env))
        yield from _codeartifact(project, env)
    for name, url in sorted(_upstreams(project, env).items()):
        yield _check(name, functools.partial(_reachable, session, url))
    yield _check("github token", lambda: _github_token(project, env, session))


def _check(area: str, probe: Callable[[], str]) -> Finding:
    try:
        return Finding(area, True, probe())
    except BuilderError as e:
        return Finding(area, False, redact(str(e).splitlines()[0]))
    except Exception as e:  # a probe must never stop the others
        return Finding(area, False, redact(f"{type(e).__name__}: {e}".splitlines()[0][:200]))


def _docker(project: Project, env: Mapping[str, str]) -> str:
    from builder.building.engine import find_client

    client = find_client(project.settings.docker_client, env)
    how = "docker buildx build" if client.buildx else "DOCKER_BUILDKIT=1 docker build (native)"
    return f"BuildKit through {how} with {client.path}"


def _registry(project: Project, env: Mapping[str, str]) -> str:
    from builder.building.buildkit import registry_has
    from builder.building.engine import find_client

    registry = project.settings.registry
    host = registry.split("/", 1)[0]
    if not ("." in host or ":" in host or host == "localhost"):  # as docker tells a host from a name
        return f"{registry}: local image names only (set registry in builder.yaml to push)"
    probe = f"{registry}/{next(iter(sorted(project.images)), 'base')}:builder-doctor-probe"
    registry_has(find_client(project.settings.docker_client, env), probe)  # raises with what to do
    return f"{host} answers through docker (builder build --push can ask it for tags)"


def _aws_credentials(env: Mapping[str, str]) -> str:
    import boto3

    from builder.plumbing.aws import SETUP_ERRORS

    try:
        credentials = boto3.Session().get_credentials()
    except SETUP_ERRORS as e:
        raise BuilderError(f"the AWS configuration is broken: {type(e).__name__}: {e}") from None
    if credentials is None:
        raise BuilderError("no AWS credentials: set AWS_PROFILE, run `aws configure` or use an instance role")
    return f"credentials from {credentials.method} (key ...{credentials.access_key[-4:]})"


def _codeartifact(project: Project, env: Mapping[str, str]) -> Iterator[Finding]:
    from builder.runtime import Runtime

    try:
        store = Runtime(project, env).codeartifact()
        store.authorization_token()
        checks = store.check_repositories()
    except BuilderError as e:
        yield Finding("codeartifact", False, redact(str(e).splitlines()[0]))
        return
    ca = project.settings.store.codeartifact
    assert ca is not None
    yield Finding("codeartifact", True, f"domain {ca.domain} ({ca.domain_owner}, {ca.region}) gives tokens")
    for check in checks:
        detail = f"{check.role} repository {check.repository}" + (
            f": {check.problem}" if check.problem else ""
        )
        yield Finding("codeartifact", check.ok, detail)


def _upstreams(project: Project, env: Mapping[str, str]) -> dict[str, str]:
    from builder.plumbing.pipconf import pip_index_url

    urls = {
        "github api": f"{project.settings.upstreams['github_api']}/rate_limit",
        "hashicorp": f"{project.settings.upstreams['hashicorp_releases']}/terraform/index.json",
        "nodejs": f"{project.settings.upstreams['nodejs']}/dist/index.json",
    }
    index = pip_index_url(project.settings.pip_index, env)
    if index:
        urls["pip index"] = index
    return urls


def _reachable(session: Any, url: str) -> str:
    import requests

    try:
        response = session.get(url, timeout=(5, 10), stream=True)
        response.close()
    except requests.RequestException as e:
        raise BuilderError(
            f"{redact(url)} does not answer ({type(e).__name__}): check the network or a proxy"
        ) from None
    if response.status_code >= 500:
        raise BuilderError(f"{redact(url)} answers HTTP {response.status_code}")
    return f"{redact(url)} answers (HTTP {response.status_code})"


def _github_token(project: Project, env: Mapping[str, str], session: Any) -> str:
    token = env.get("GITHUB_TOKEN")
    if not token:
        return "GITHUB_TOKEN not set: GitHub allows 60 requests an hour without one (enough for a few tools)"
    api = project.settings.upstreams["github_api"]
    response = session.get(f"{api}/rate_limit", headers={"Authorization": f"Bearer {token}"}, timeout=(5, 10))
    if response.status_code == 401:
        raise BuilderError("GITHUB_TOKEN is refused by GitHub (401): create a new token")
    remaining = response.json().get("resources", {}).get("core", {}).get("remaining", "?")
    return f"GITHUB_TOKEN accepted, {remaining} requests left this hour"
