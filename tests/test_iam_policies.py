"""Every AWS call the updater and CodeBuild really make is allowed by their Terraform policies, and nothing more.

One end-to-end run records the calls with botocore's event hooks (tests/aws_calls.py): the updater
Lambda's handler, with the environment Terraform gives the function, reads the GitHub token from
Secrets Manager (moto), finds a new release of a tool on a fake GitHub, mirrors it into the local
CodeArtifact double and opens the pull request; then the pull request's own rendered buildspecs run
as CodeBuild runs them, with the project's environment (`builder build IMAGE --platform P --push
--junit ...`: fetch from generic-store, the pip/npm token and endpoints, a real BuildKit build,
smoke, push to a local registry; then `builder manifest`). The policies are the ones Terraform
renders offline (tests/deployment.py). Each call becomes the requests IAM authorises
(tests/iam_check.py), and:

- every request must be allowed by the identity policy of the role that makes it, and by the
  resource policy of the domain or repository it touches where one exists (the configuration
  grants through both; they must not drift apart);
- every (action, resource) an identity or resource policy grants to a role must be used by one of
  that role's requests, unless the action is in ``PLATFORM_NEEDS``: what AWS services do as the role
  outside builder's code, each with its reason.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from tests.aws_calls import AwsCall
from tests.deployment import ACCOUNT, Deployment, applied_state, deployment, state_test_file, write_test_file
from tests.fakes.codeartifact import CodeArtifactState, codeartifact_double
from tests.fakes.github import FakeGitHub
from tests.fakes.github import serve as serve_releases
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.github_pulls import serve as serve_repo
from tests.fakes.osv import serve as serve_osv
from tests.policy_audit import (
    as_requests,
    denials,
    drop_from_identity,
    drop_from_resource_policies,
    stale_needs,
    unused_grants,
)
from tests.recorded_run import (
    IMAGE,
    checkout,
    hello_records,
    isolated,
    lambda_environment,
    machine_environment,
    release_hello,
    run_codebuild,
    run_updater,
    security_hub_server,
    seed_project,
    store_osv,
)
from tests.registry import Registry, free_port
from tests.test_terraform import Run, initialized, initialized_dir, run, tf_env

__all__ = ["initialized", "tf_env"]  # the terraform fixtures, shared with tests/test_terraform.py

pytestmark = [pytest.mark.docker, pytest.mark.terraform]

REGION = "eu-west-1"
VARIABLES = {  # for one image, and the widest policy: a CodeCommit source adds the clone grant
    "aws_region": REGION,
    "images": [IMAGE],
    "source_type": "CODECOMMIT",
    "source_repository_url": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/ci-images",
    "audit_offline": True,  # and the read of the OSV archives in CodeArtifact
}

# What AWS services do as the role, outside builder's code (no botocore call to record): the only
# grants that need no recorded request. Keep it to these; a new entry needs its reason.
PLATFORM_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "codebuild": {
        "CodeBuild writes the build's log to its log group as the service role": (
            "logs:CreateLogStream", "logs:PutLogEvents"),
        "CodeBuild uploads the buildspec's `reports:` (the smoke JUnit file) as the service role": (
            "codebuild:CreateReportGroup", "codebuild:CreateReport", "codebuild:UpdateReport",
            "codebuild:BatchPutTestCases"),
        "an ECR buildspec logs docker in with `aws ecr get-login-password` (the AWS CLI)": (
            "ecr:GetAuthorizationToken",),
        "docker push, pull and manifest inspect/push speak the registry protocol, authorised as ECR actions": (
            "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"),
        "CodeBuild encrypts what it keeps of a build with the project's encryption_key as the service role": (
            "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
        "the batch project starts, retries and stops its child builds as the service role": (
            "codebuild:RetryBuild", "codebuild:StartBuild", "codebuild:StopBuild"),
        "CodeBuild clones a CODECOMMIT source as the service role": ("codecommit:GitPull",),
        "CodeBuild uploads the buildspec's `artifacts:` (SBOM, provenance) to the bucket as the service role": (
            "s3:GetBucketAcl", "s3:GetBucketLocation", "s3:PutObject"),
    },
    "updater": {
        "Lambda writes the function's log as the execution role": ("logs:CreateLogStream", "logs:PutLogEvents"),
        "active tracing: Lambda sends the trace as the execution role": (
            "xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        "Lambda sends a failed asynchronous event to the encrypted DLQ as the execution role": (
            "sqs:SendMessage", "kms:GenerateDataKey"),
        "Lambda decrypts the environment, and Secrets Manager the token, with the role's kms:Decrypt": (
            "kms:Decrypt",),
    },
    "scheduler": {"EventBridge Scheduler invokes the updater as this role": ("lambda:InvokeFunction",)},
}  # fmt: skip
NEEDS = {
    runs: {a for actions in reasons.values() for a in actions} for runs, reasons in PLATFORM_NEEDS.items()
}


# ---------------------------------------------------------------- terraform, offline


def render(
    workdir: Path, env: dict[str, str], secret_arn: str, repository: str, key_arn: str = ""
) -> Deployment:
    name = write_test_file(
        workdir, state_test_file({**VARIABLES, "github_repository": repository}, secret_arn, key_arn)
    )
    done = run(["terraform", "test", "-no-color", "-json", "-verbose", f"-filter={name}"], workdir, env)
    assert done.returncode == 0, done.report()[-4000:]
    return deployment(applied_state(done.stdout))


def terraform_copy(initialized: tuple[Path, Run], destination: Path) -> Path:
    shutil.copytree(initialized_dir(initialized), destination, symlinks=True)
    return destination


@dataclass(frozen=True)
class Scenario:
    deployment: Deployment
    calls: dict[str, list[AwsCall]]  # by what made them: updater, codebuild
    secret_arn: str
    repository: str
    seconds: dict[str, float]
    key_arn: str  # the provenance key, in moto


@pytest.fixture(scope="module")
def scenario(initialized: tuple[Path, Run], tf_env: dict[str, str], registry: Registry, base_image: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:  # fmt: skip
    work = tmp_path_factory.mktemp("iam")
    seconds: dict[str, float] = {}
    with isolated(work / "home"), serve_releases(FakeGitHub()) as releases, \
            serve_repo(FakeRepo(owner="example-org")) as repo, \
            codeartifact_double(CodeArtifactState(owner=ACCOUNT, region=REGION)) as (ca_url, ca), mock_aws(), \
            serve_osv(hello_records()) as osv_url, security_hub_server() as hub_url:  # fmt: skip
        sm = boto3.client("secretsmanager", region_name=REGION)
        secret = sm.create_secret(Name="builder/github-token", SecretString=repo.token)["ARN"]
        # The builds run as child processes: they reach moto's KMS through its server.
        port = free_port()
        kms_server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        kms_server.start()
        kms_url = f"http://127.0.0.1:{port}"
        kms = boto3.client("kms", region_name=REGION, endpoint_url=kms_url)
        key_arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        started = time.monotonic()
        deployed = render(
            terraform_copy(initialized, work / "terraform"),
            tf_env,
            secret,
            f"{repo.owner}/{repo.name}",
            key_arn,
        )
        seconds["terraform"] = time.monotonic() - started
        ca.create(deployed.domain, *deployed.repositories)
        release_hello(releases, "0.4.2")
        repo.seed(
            seed_project(
                work / "project", releases, f"{registry.host}/iam-{secrets.token_hex(3)}", base_image, osv_url
            )
        )
        store_osv(work / "project", deployed, ca_url)
        release_hello(releases, "0.5.0")
        started = time.monotonic()
        summary, updater_calls = run_updater(
            lambda_environment(deployed, REGION, (repo, ca_url), work / "lambda-home")
        )
        seconds["updater"] = time.monotonic() - started
        assert summary["published"] == 1 and summary["pull_request"], summary
        (pull,) = repo.open_pulls()
        started = time.monotonic()
        tree = checkout(repo.files_at(pull["head"]), work / "checkout")
        machine = {**machine_environment(REGION, ca_url, hub_url), "BUILDER_KMS_ENDPOINT": kms_url}
        codebuild_calls = run_codebuild(tree, machine, deployed.codebuild_environment, work)
        kms_server.stop()
        seconds["codebuild"] = time.monotonic() - started
        assert ca.versions_of("hello")["0.5.0"].status == "Published"
        calls = {"updater": updater_calls, "codebuild": codebuild_calls}
        yield Scenario(deployed, calls, secret, f"{repo.owner}/{repo.name}", seconds, key_arn)


# ---------------------------------------------------------------- the tests


def test_the_run_records_both_code_paths(scenario: Scenario) -> None:
    """The recording saw the paths it claims to: a check over no calls would prove nothing."""
    operations = {runs: sorted({c.operation for c in calls}) for runs, calls in scenario.calls.items()}
    asked = {
        runs: sorted({f"{q.action} {q.resource}" for q in found})
        for runs, found in as_requests(scenario.calls).items()
    }
    print(json.dumps({"requests": asked, "seconds": scenario.seconds}, indent=1))  # for the record (-s)
    assert "PublishPackageVersion" in operations["updater"] and "GetSecretValue" in operations["updater"]
    assert (
        "GetPackageVersionAsset" in operations["codebuild"]
        and "GetAuthorizationToken" in operations["codebuild"]
    )
    assert "PublishPackageVersion" not in operations["codebuild"]  # builds only read the mirror
    # After the push, the build's audit imports hello's known vulnerability into Security Hub.
    assert {"BatchImportFindings", "GetFindings"} <= set(operations["codebuild"])
    assert "Sign" in operations["codebuild"]  # each built image's provenance
    # builder.yaml says audit: {offline: true}: the newest OSV mirror is listed, then read.
    assert "ListPackageVersions" in operations["codebuild"]
    osv_reads = [
        q.resource for q in as_requests(scenario.calls)["codebuild"] if "/generic/osv/" in q.resource
    ]
    assert osv_reads and all(r.endswith("/generic/osv/eco--go") for r in osv_reads), osv_reads


def test_every_call_is_allowed_by_the_roles_policies(scenario: Scenario) -> None:
    problems = denials(scenario.deployment, as_requests(scenario.calls))
    assert not problems, "the Terraform policies refuse what the code does:\n" + "\n".join(problems)


def test_nothing_is_granted_that_no_call_uses(scenario: Scenario) -> None:
    deployed = scenario.deployment
    problems = unused_grants(deployed, as_requests(scenario.calls), NEEDS) + stale_needs(deployed, NEEDS)
    assert not problems, (
        "grants no code path uses (drop them, or add a platform need with its reason):\n"
        + "\n".join(problems)
    )


def test_dropping_any_needed_action_fails_the_check(scenario: Scenario) -> None:
    requests = as_requests(scenario.calls)
    deployed = scenario.deployment
    assert not denials(deployed, requests)
    missed = []
    for runs, wanted in requests.items():
        for action in sorted({q.action for q in wanted}):
            if not denials(drop_from_identity(deployed, runs, action), requests):
                missed.append(f"{runs}: {action} taken from its identity policy")
            governed = any(
                p.governs(q.resource)
                for q in wanted
                if q.action == action
                for p in deployed.resource_policies
            )
            if governed and not denials(drop_from_resource_policies(deployed, action), requests):
                missed.append(f"{runs}: {action} taken from the resource policies")
    assert not missed, "the check did not notice:\n" + "\n".join(missed)


TERRAFORM_MUTATIONS = (  # (file, text, replacement): issue 9's items 16 and 17 put back
    ("modules/codebuild/main.tf",
     'Action   = ["codeartifact:GetPackageVersionAsset", "codeartifact:ListPackageVersionAssets"]',
     'Action   = ["codeartifact:ListPackageVersionAssets"]'),
    ("modules/updater/main.tf",
     "        Resource = local.ca.generic_package_arn\n",
     f'        Resource = [local.ca.generic_package_arn, "arn:aws:codeartifact:{REGION}:{ACCOUNT}:package/security-tools-domain/pip-store/*"]\n'),
)  # fmt: skip


def test_a_terraform_change_that_drops_a_needed_action_or_adds_an_unused_grant_fails(
    scenario: Scenario, initialized: tuple[Path, Run], tf_env: dict[str, str], tmp_path: Path
) -> None:
    workdir = terraform_copy(initialized, tmp_path / "terraform")
    for file, text, replacement in TERRAFORM_MUTATIONS:
        target = workdir / file
        assert target.read_text().count(text) == 1, f"{text!r} is no longer in {file}: update this mutation"
        target.write_text(target.read_text().replace(text, replacement))
    mutated = render(workdir, tf_env, scenario.secret_arn, scenario.repository, scenario.key_arn)
    requests = as_requests(scenario.calls)
    refused = denials(mutated, requests)
    assert refused and all("codeartifact:GetPackageVersionAsset" in line for line in refused), refused
    assert all(line.startswith("codebuild role:") for line in refused), refused
    unused = unused_grants(mutated, requests, NEEDS)
    assert unused and all("pip-store" in line and "updater role" in line for line in unused), unused
    assert any("codeartifact:PublishPackageVersion" in line for line in unused), unused
