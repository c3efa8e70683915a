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
The event may hold ``{"accept_provenance_change": [TOOL, ...]}``: `update --accept-provenance-change`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from builder.errors import UserError
from builder.plumbing.redact import redact

_NAMESPACE = "builder/updater"
_ACCEPT_KEY = "accept_provenance_change"  # the event's list of tools whose changed signer is accepted
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_PROJECT_FILES = ("builder.yaml", "tools.yaml", "builder.lock", "images/", "templates/", "buildspecs/")


class UpdateFailed(RuntimeError):
    """Raised so the invocation counts as failed (alarms, the DLQ) after the summary is logged."""


class _JsonLog:
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


def _emit_metrics(stream: TextIO, values: Mapping[str, float]) -> None:
    """One EMF document: CloudWatch turns it into metrics with no dimensions."""
    units = {"DurationMs": "Milliseconds"}
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": _NAMESPACE,
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
    from builder.signatures.trust import lambda_cache

    lambda_cache(os.environ)  # sigstore's caches, should anything open them, in the one writable place
    env = dict(os.environ)
    secrets: list[str] = []
    log = _JsonLog(out, secrets)
    from builder.updating.updater import UpdateReport

    report = UpdateReport()
    try:
        report = _update(env, log, secrets, _accepted(event))
    except UserError as e:
        report.failures["updater"] = str(e)
        log(f"update failed: {e}", level="error")
    _emit_metrics(out, report.metrics())
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


def _github_token(env: Mapping[str, str]) -> str:
    """The Lambda cannot work without one: it reads the project and opens the pull request with it."""
    from builder import runtime

    token = runtime.github_token({k: v for k, v in env.items() if k != "GITHUB_TOKEN"})
    if not token:
        raise UserError("environment variable BUILDER_GITHUB_TOKEN_SECRET_ARN is not set")
    return token


def _accepted(event: Mapping[str, Any]) -> frozenset[str]:
    """``{"accept_provenance_change": ["trivy"]}``: a person invoking the function by hand takes
    those bumps although their signer changed, as `builder update --accept-provenance-change` does."""
    names = event.get(_ACCEPT_KEY, []) if isinstance(event, Mapping) else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise UserError(f"the event's '{_ACCEPT_KEY}' must be a list of tool names")
    return frozenset(names)


def _update(env: Mapping[str, str], log: _JsonLog, secrets: list[str], accept: frozenset[str]) -> Any:
    from builder.plumbing.workdir import scratch, sweep

    token = _github_token(env)
    secrets.append(token)
    # A warm Lambda keeps /tmp between invocations: each run's folder goes when it ends, and a
    # run the timeout killed is swept by the next.
    sweep()
    with scratch("update") as work:
        return _update_in(work, env, log, token, accept)


def _update_in(work: Path, env: Mapping[str, str], log: _JsonLog, token: str, accept: frozenset[str]) -> Any:
    """Read the project from the repository (a Lambda has no git), then exactly `builder update`."""
    from builder.config.project import load_project, with_environment
    from builder.locking.lockfile import load_lockfile
    from builder.runtime import Runtime, github_api, github_client
    from builder.updating.updater import run_update

    repository, api = _required(env, "BUILDER_GITHUB_REPOSITORY"), github_api(None, env)
    keys = _keys_path(env)
    wanted = (*_PROJECT_FILES, f"{keys}/") if keys else _PROJECT_FILES
    head = github_client(api, repository, token).download(
        work / "project", lambda path: path.startswith(wanted)
    )
    log("read the project", commit=head)
    project = with_environment(load_project(work / "project"), env)
    # The API the project came from is the one the token and the pull request are for; the
    # repository's keys folder, when it keeps one, the keys it is verified with and refreshes.
    overrides = {"BUILDER_GITHUB_TOKEN": token, "BUILDER_GITHUB_API": api}
    overrides |= {"BUILDER_KEYS_DIR": str(work / "project" / keys)} if keys else {}
    wiring = Runtime(project, {**env, **overrides}, cache=work)
    if (warning := wiring.releases_without_token()) is not None:
        log(warning, level="warning")
    mirror = wiring.mirror() if project.settings.store.codeartifact else None
    lock = load_lockfile(project.root)
    return run_update(project, lock, wiring.sources(work / "work"), wiring.clock(), mirror,
                      wiring.github(repository), lambda line: log(line), accept=accept,
                      osv=wiring.osv(), trust=wiring.trust_refresh())  # fmt: skip


def _keys_path(env: Mapping[str, str]) -> str:
    """BUILDER_KEYS_PATH: the trusted-keys folder's path in the repository ("": the zip's own)."""
    path = env.get("BUILDER_KEYS_PATH", "").strip().removesuffix("/")
    parts = path.split("/")
    if path and (any(p in ("", ".", "..") for p in parts) or not _SAFE_PATH.fullmatch(path)):
        raise UserError(f"BUILDER_KEYS_PATH {path!r} must be a relative folder path inside the repository")
    return path


def _required(env: Mapping[str, str], name: str) -> str:
    if not env.get(name):
        raise UserError(f"environment variable {name} is not set")
    return env[name]
