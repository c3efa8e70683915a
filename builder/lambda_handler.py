"""The AWS Lambda front of the updater: settings from the environment, then exactly `builder update`.

Environment (Terraform sets these): BUILDER_GITHUB_REPOSITORY (owner/name), BUILDER_GITHUB_TOKEN_SECRET_ARN
(or BUILDER_GITHUB_TOKEN), BUILDER_CODEARTIFACT_DOMAIN, BUILDER_CODEARTIFACT_DOMAIN_OWNER,
BUILDER_CODEARTIFACT_REGION, BUILDER_GENERIC_REPOSITORY (it publishes generic artifacts only);
optional BUILDER_GITHUB_API and BUILDER_CODEARTIFACT_ENDPOINT (another endpoint, e.g. a test double).
The GitHub token is scoped to BUILDER_GITHUB_API: releases are read with it when builder.yaml's
``upstreams.github_api`` lies under that API, and anonymously (with a warning) when not.
The project's definitions and lockfile are read from the repository's default branch through the
REST API (a Lambda has no git). Logs are JSON lines; metrics use CloudWatch's Embedded Metric Format
in namespace builder/updater without dimensions. The invocation fails when any tool failed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from builder.errors import UserError
from builder.redact import redact

if TYPE_CHECKING:
    from builder.credentials import Credential

NAMESPACE = "builder/updater"
PROJECT_FILES = ("builder.yaml", "tools.yaml", "builder.lock", "images/", "templates/", "buildspecs/")


class UpdateFailed(RuntimeError):
    """Raised so the invocation counts as failed (alarms, the DLQ) after the summary is logged."""


class JsonLog:
    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self.stream, self.secrets = stream, secrets

    def __call__(self, message: str, level: str = "info", **fields: Any) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "level": level,
            "message": redact(message, self.secrets),
        }
        record.update({k: json.loads(redact(json.dumps(v), self.secrets)) for k, v in fields.items()})
        self.stream.write(json.dumps(record, sort_keys=True) + "\n")
        self.stream.flush()


def emit_metrics(stream: TextIO, values: Mapping[str, float]) -> None:
    """One EMF document: CloudWatch turns it into metrics with no dimensions."""
    units = {"DurationMs": "Milliseconds"}
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": name, "Unit": units.get(name, "Count")} for name in values],
                }
            ],
        },
        **values,
    }
    stream.write(json.dumps(document) + "\n")
    stream.flush()


def handler(event: Mapping[str, Any], context: Any, stream: TextIO | None = None) -> dict[str, Any]:
    out = stream or sys.stdout
    env = dict(os.environ)
    secrets: list[str] = []
    log = JsonLog(out, secrets)
    from builder.updater import UpdateReport

    report = UpdateReport()
    try:
        report = _update(env, log, secrets)
    except UserError as e:
        report.failures["updater"] = str(e)
        log(f"update failed: {e}", level="error")
    emit_metrics(out, report.metrics())
    summary = _summary(report)
    log("update finished", **summary)
    if report.failures:
        raise UpdateFailed(
            redact(f"{len(report.failures)} tool(s) failed: {', '.join(report.failures)}", secrets)
        )
    return summary


def _summary(report: Any) -> dict[str, Any]:
    return {
        "updates": [dataclasses.asdict(c) for c in report.changes],
        "failures": report.failures,
        "deferred": {name: str(deferral) for name, deferral in report.deferred.items()},
        "published": report.published,
        "pull_request": report.pull.url if report.pull else None,
    }


def _update(env: Mapping[str, str], log: JsonLog, secrets: list[str]) -> Any:
    from builder.workdir import scratch, sweep

    token = github_token(env)
    secrets.append(token)
    # A warm Lambda keeps /tmp between invocations: each run's folder goes when it ends, and a
    # run the timeout killed is swept by the next.
    sweep()
    with scratch("update") as work:
        return _update_in(work, env, log, token)


def _update_in(work: Path, env: Mapping[str, str], log: JsonLog, token: str) -> Any:
    from builder.github import GitHubClient
    from builder.http import make_session
    from builder.lockfile import load_lockfile
    from builder.project import load_project, with_environment
    from builder.settings import HttpSettings
    from builder.updater import run_update

    api = env.get("BUILDER_GITHUB_API", "https://api.github.com")
    session = make_session(retries=HttpSettings.retries)  # the project (and its http:) is not read yet
    github = GitHubClient(session, api, _required(env, "BUILDER_GITHUB_REPOSITORY"), token)
    head = github.download(work / "project", lambda path: path.startswith(PROJECT_FILES))
    log("read the project", commit=head)
    project = with_environment(load_project(work / "project"), env)
    sources, local = _sources(project, work, env, _credentials(api, token, project, log))
    mirror = _mirror(project, local, env)
    lock = load_lockfile(project.root)
    return run_update(project, lock, sources, datetime.now(UTC), mirror, github, lambda line: log(line))


def _credentials(api: str, token: str, project: Any, log: JsonLog) -> tuple[Credential, ...]:
    """The token, for BUILDER_GITHUB_API and below, and for nothing that builder.yaml alone names.

    Releases read with it count against the token's limit, not the 60 an hour of Lambda's addresses.
    """
    from builder.credentials import github_credentials

    credentials = github_credentials(api, token)
    releases = project.settings.upstreams["github_api"]
    if not any(c.scope.covers(releases) for c in credentials):
        log(f"releases on {releases} are read without the token (it is for {api})", level="warning")
    return credentials


def github_token(env: Mapping[str, str]) -> str:
    if env.get("BUILDER_GITHUB_TOKEN"):
        return env["BUILDER_GITHUB_TOKEN"]
    arn = _required(env, "BUILDER_GITHUB_TOKEN_SECRET_ARN")
    from builder.aws import client as aws_client

    client = aws_client("secretsmanager", env)
    try:
        return str(client.get_secret_value(SecretId=arn)["SecretString"]).strip()
    except Exception as e:  # botocore errors: name the secret, never its value
        raise UserError(f"cannot read the GitHub token from {arn}: {type(e).__name__}") from None


def _required(env: Mapping[str, str], name: str) -> str:
    if not env.get(name):
        raise UserError(f"environment variable {name} is not set")
    return env[name]


def _sources(
    project: Any, work: Path, env: Mapping[str, str], credentials: tuple[Credential, ...]
) -> tuple[dict[str, Any], Any]:
    from builder.http import HttpClient, make_session
    from builder.sources import make_sources
    from builder.sources.base import SourceContext
    from builder.stores.local import LocalStore

    local = LocalStore(work / "artifacts")
    keys = Path(env.get("BUILDER_KEYS_DIR") or Path(__file__).resolve().parent / "data" / "keys")
    http = HttpClient(make_session(), cache_dir=work / "http", credentials=credentials,
                      limits=project.settings.http)  # fmt: skip
    ctx = SourceContext(http, project.settings, project.settings.upstreams, keys, work / "work", local, env)
    wanted = {tool.source for tool in project.tools.values()}
    return make_sources(ctx, wanted), local


def _mirror(project: Any, local: Any, env: Mapping[str, str]) -> Any:
    ca = project.settings.store.codeartifact
    if ca is None:
        return None
    from builder.aws import client
    from builder.stores.codeartifact import CodeArtifactStore
    from builder.updater import Mirror

    return Mirror(local, CodeArtifactStore(client("codeartifact", env, ca.region), ca))
