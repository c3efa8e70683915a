"""The deployment as Terraform renders it offline: roles, their policies, resource policies, environments.

``terraform test -verbose -json`` (mock provider, command = apply) prints the state it applied; a
test file written next to the committed ones gives the mocks what they cannot know: a distinct ARN
and id per role (the mock gives every role the same) and the ARN of the secret moto holds. Which
role runs what is read from the state itself: the CodeBuild projects' service role, the Lambda's
role, the schedule's role. Nothing here names a policy, an action or a repository.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.iam_check import listed

STATE_TEST = "tests/zz_deployment.tftest.hcl"
ACCOUNT = "123456789012"  # the mocks' account, and moto's
ROLES = {  # role address -> name: the overrides that tell the roles apart
    "module.codebuild.aws_iam_role.codebuild": "builder-codebuild",
    "module.updater.aws_iam_role.lambda": "builder-updater-lambda",
    "module.updater.aws_iam_role.scheduler": "builder-updater-scheduler",
}
TEST_FILE = """\
mock_provider "aws" {{
  source = "./tests/mocks"
}}

variables {{
  lambda_zip_path = "tests/fixtures/updater.zip"
{variables}}}
{overrides}
run "deployment" {{}}
"""
OVERRIDE = """
override_resource {{
  target = {target}
  values = {{ {values} }}
}}
"""


@dataclass(frozen=True)
class Role:
    runs: str  # what runs as it: codebuild, updater or scheduler
    arn: str
    statements: tuple[Mapping[str, Any], ...]  # of its identity policies


@dataclass(frozen=True)
class ResourcePolicy:
    name: str
    scope: str  # the ARN it is attached to; a repository's also governs its packages
    statements: tuple[Mapping[str, Any], ...]

    def governs(self, resource: str) -> bool:
        packages = self.scope.replace(":repository/", ":package/", 1) + "/"
        return resource == self.scope or (":repository/" in self.scope and resource.startswith(packages))


@dataclass(frozen=True)
class Deployment:
    roles: Mapping[str, Role]  # by what runs as it
    resource_policies: tuple[ResourcePolicy, ...]
    documents: Mapping[str, Any]  # the iam_policy_documents output
    lambda_environment: Mapping[str, str]
    codebuild_environment: Mapping[str, str]  # of the first image's project
    domain: str
    repositories: tuple[str, ...]


def state_test_file(variables: Mapping[str, Any], secret_arn: str, provenance_key_arn: str = "") -> str:
    """A test file that applies the root module with ``variables`` (JSON values are HCL too)."""
    overrides = [
        OVERRIDE.format(target=address, values=f'arn = "arn:aws:iam::{ACCOUNT}:role/{name}", id = "{name}"')
        for address, name in ROLES.items()
    ]
    secret = "module.updater.aws_secretsmanager_secret.github_token[0]"
    overrides.append(OVERRIDE.format(target=secret, values=f'arn = "{secret_arn}"'))
    if provenance_key_arn:  # a key that exists (in moto), so the builds really sign with it
        key_id = provenance_key_arn.rsplit("/", 1)[1]
        overrides.append(OVERRIDE.format(target="aws_kms_key.provenance",
                                         values=f'arn = "{provenance_key_arn}", key_id = "{key_id}"'))  # fmt: skip
    lines = "".join(f"  {name} = {json.dumps(value)}\n" for name, value in variables.items())
    return TEST_FILE.format(variables=lines, overrides="".join(overrides))


def applied_state(json_lines: str) -> dict[str, Any]:
    states = [
        r["test_state"] for r in map(json.loads, json_lines.splitlines()) if r.get("type") == "test_state"
    ]
    if len(states) != 1:
        raise AssertionError(f"expected one test_state in terraform test's output, found {len(states)}")
    return dict(states[0])


def _resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _resources(child)


def _of_type(state: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [r for r in _resources(state["root_module"]) if r["type"] == kind and r["mode"] == "managed"]


def _runs_as(state: Mapping[str, Any]) -> dict[str, str]:
    """Role ARN -> what runs as it, from the resources that name the role."""
    users = [(p["values"]["service_role"], "codebuild") for p in _of_type(state, "aws_codebuild_project")]
    users += [(f["values"]["role"], "updater") for f in _of_type(state, "aws_lambda_function")]
    users += [
        (t["role_arn"], "scheduler")
        for s in _of_type(state, "aws_scheduler_schedule")
        for t in s["values"]["target"]
    ]
    runs: dict[str, str] = {}
    for arn, kind in users:
        if runs.setdefault(arn, kind) != kind:
            raise AssertionError(f"{arn} runs both {runs[arn]} and {kind}: give each its own role")
    return runs


def _roles(state: Mapping[str, Any]) -> dict[str, Role]:
    runs = _runs_as(state)
    roles: dict[str, Role] = {}
    for role in _of_type(state, "aws_iam_role"):
        arn, name = role["values"]["arn"], role["values"]["id"]
        if arn not in runs:
            raise AssertionError(
                f"{role['address']} ({arn}) is not used by any project, function or schedule"
            )
        documents = [
            p["values"]["policy"]
            for p in _of_type(state, "aws_iam_role_policy")
            if p["values"]["role"] == name
        ]
        statements = tuple(s for d in documents for s in listed(json.loads(d)["Statement"]))
        if runs[arn] in roles:
            raise AssertionError(
                f"two roles run {runs[arn]}, or the overrides in tests/deployment.py miss a role"
            )
        roles[runs[arn]] = Role(runs[arn], arn, statements)
    return roles


def _resource_policies(state: Mapping[str, Any], domain_arn: str) -> tuple[ResourcePolicy, ...]:
    found = [ResourcePolicy("domain", domain_arn, tuple(listed(json.loads(p["values"]["policy_document"])["Statement"])))
             for p in _of_type(state, "aws_codeartifact_domain_permissions_policy")]  # fmt: skip
    for p in _of_type(state, "aws_codeartifact_repository_permissions_policy"):
        scope = domain_arn.replace(":domain/", ":repository/", 1) + "/" + p["values"]["repository"]
        statements = tuple(listed(json.loads(p["values"]["policy_document"])["Statement"]))
        found.append(ResourcePolicy(f"repository {p['values']['repository']}", scope, statements))
    return tuple(found)


def _codebuild_environment(state: Mapping[str, Any]) -> dict[str, str]:
    project = next(p for p in _of_type(state, "aws_codebuild_project") if p.get("index") is not None)
    return {v["name"]: v["value"] for v in project["values"]["environment"][0]["environment_variable"]}


def deployment(state: Mapping[str, Any]) -> Deployment:
    (domain,) = _of_type(state, "aws_codeartifact_domain")
    (function,) = _of_type(state, "aws_lambda_function")
    return Deployment(
        roles=_roles(state),
        resource_policies=_resource_policies(state, domain["values"]["arn"]),
        documents=state["outputs"]["iam_policy_documents"]["value"],
        lambda_environment=dict(function["values"]["environment"][0]["variables"]),
        codebuild_environment=_codebuild_environment(state),
        domain=domain["values"]["domain"],
        repositories=tuple(
            sorted(r["values"]["repository"] for r in _of_type(state, "aws_codeartifact_repository"))
        ),
    )


def write_test_file(workdir: Path, text: str) -> str:
    (workdir / STATE_TEST).write_text(text)
    return STATE_TEST
