"""The CodeArtifact double rejects what the service rejects and answers in the service's own shapes.

Everything goes through a real boto3 client, so each request is exactly what botocore sends, and
each error is parsed by botocore into the exception class the real service would give.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.fakes.codeartifact import OWNER, CodeArtifactState, codeartifact_double, make_client

DOMAIN, REPO = "security-tools", "generic-store"
DATA = b"#!/bin/sh\necho trivy 0.50.0\n"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def ca(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, CodeArtifactState]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-key")
    with codeartifact_double() as (url, state):
        client = make_client(url)
        client.create_domain(domain=DOMAIN)
        client.create_repository(domain=DOMAIN, repository=REPO)
        yield client, state


def coords(**extra: Any) -> dict[str, Any]:
    return {
        "domain": DOMAIN,
        "domainOwner": OWNER,
        "repository": REPO,
        "format": "generic",
        "namespace": "builder",
        "package": "trivy",
        **extra,
    }


def publish(client: Any, data: bytes = DATA, **extra: Any) -> Any:
    params = (
        coords(
            packageVersion="0.50.0",
            assetName="trivy.tar.gz",
            assetContent=data,
            assetSHA256=hashlib.sha256(data).hexdigest(),
        )
        | extra
    )
    return client.publish_package_version(**params)


def validation_message(client: Any, operation: str, **params: Any) -> str:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        getattr(client, operation)(**params)
    return str(caught.value.response["Error"]["Message"])


def test_a_well_formed_publish_is_accepted_and_served_back(ca: tuple[Any, CodeArtifactState]) -> None:
    client, state = ca
    reply = publish(client)
    assert (reply["status"], reply["namespace"], reply["package"], reply["version"]) == (
        "Published",
        "builder",
        "trivy",
        "0.50.0",
    )
    assert reply["asset"] == {"name": "trivy.tar.gz", "size": len(DATA), "hashes": reply["asset"]["hashes"]}
    assert reply["asset"]["hashes"]["SHA-256"] == SHA
    got = client.get_package_version_asset(**coords(packageVersion="0.50.0", asset="trivy.tar.gz"))
    assert got["asset"].read() == DATA
    assert (got["assetName"], got["packageVersion"], got["packageVersionRevision"]) == (
        "trivy.tar.gz",
        "0.50.0",
        reply["versionRevision"],
    )
    [assets] = [client.list_package_version_assets(**coords(packageVersion="0.50.0"))["assets"]]
    assert [(a["name"], a["hashes"]["SHA-256"]) for a in assets] == [("trivy.tar.gz", SHA)]
    call = state.operations("PublishPackageVersion")[0]
    assert call.params["assetSHA256"] == SHA and call.params["assetContent"] == f"<{len(DATA)} bytes>"


def test_patterns_enums_and_max_lengths_are_enforced_by_the_double(ca: tuple[Any, CodeArtifactState]) -> None:
    client, _ = ca
    bad_domain = validation_message(client, "describe_repository", domain="Bad_Domain", repository=REPO)
    assert (
        "at 'domain' failed to satisfy constraint: Member must satisfy regular expression pattern"
        in bad_domain
    )
    bad_format = validation_message(client, "list_package_versions", **coords(format="rpm"))
    assert "at 'format' failed to satisfy constraint: Member must satisfy enum value set" in bad_format
    too_long = validation_message(client, "list_package_versions", **coords(package="p" * 256))
    assert (
        "at 'package' failed to satisfy constraint: Member must have length less than or equal to 255"
        in too_long
    )
    bad_owner = validation_message(
        client, "describe_repository", domain=DOMAIN, domainOwner="12345678901x", repository=REPO
    )
    assert "at 'domainOwner'" in bad_owner
    assert "at 'assetSHA256'" in validation_message(
        client,
        "publish_package_version",
        **coords(packageVersion="1", assetName="a", assetContent=b"a", assetSHA256=SHA.upper()),
    )


def test_botocore_itself_checks_only_required_and_min(ca: tuple[Any, CodeArtifactState]) -> None:
    client, state = ca
    with pytest.raises(ParamValidationError, match="valid min length: 2"):
        client.describe_repository(domain=DOMAIN, repository="r")
    assert state.operations("DescribeRepository") == []


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        ("list_package_versions", {}),
        ("list_package_version_assets", {"packageVersion": "0.50.0"}),
        ("get_package_version_asset", {"packageVersion": "0.50.0", "asset": "trivy.tar.gz"}),
        ("describe_package_version", {"packageVersion": "0.50.0"}),
        ("dispose_package_versions", {"versions": ["0.50.0"]}),
        (
            "publish_package_version",
            {
                "packageVersion": "0.50.0",
                "assetName": "a",
                "assetContent": b"a",
                "assetSHA256": hashlib.sha256(b"a").hexdigest(),
            },
        ),
    ],
)
def test_generic_needs_a_namespace(
    ca: tuple[Any, CodeArtifactState], operation: str, extra: dict[str, Any]
) -> None:
    client, _ = ca
    params = {k: v for k, v in coords(**extra).items() if k != "namespace"}
    assert "namespace is required for the generic format" in validation_message(client, operation, **params)


def test_publish_checks_the_body_against_its_sha256_and_the_generic_rules(
    ca: tuple[Any, CodeArtifactState],
) -> None:
    client, state = ca
    wrong = coords(
        packageVersion="1", assetName="a", assetContent=DATA, assetSHA256=hashlib.sha256(b"x").hexdigest()
    )
    assert "does not match the asset content" in validation_message(
        client, "publish_package_version", **wrong
    )
    for name in (".", "..", " lead", "two  spaces", "slash/name"):
        assert "is not valid for the generic format" in validation_message(
            client,
            "publish_package_version",
            **coords(packageVersion="1", assetName=name, assetContent=DATA, assetSHA256=SHA),
        )
    assert "Only generic" in validation_message(
        client,
        "publish_package_version",
        **coords(format="npm", packageVersion="1", assetName="a", assetContent=DATA, assetSHA256=SHA),
    )
    assert state.packages == {}


def test_unfinished_versions_take_assets_published_ones_do_not(ca: tuple[Any, CodeArtifactState]) -> None:
    client, _ = ca
    assert publish(client, unfinished=True)["status"] == "Unfinished"
    assert publish(client, unfinished=True)["status"] == "Unfinished"  # identical bytes again: accepted
    with pytest.raises(client.exceptions.ConflictException) as caught:
        publish(client, b"other bytes", unfinished=True)
    assert caught.value.response["resourceType"] == "asset"
    assert publish(client, b"arm", assetName="trivy-arm64.tar.gz")["status"] == "Published"
    described = client.describe_package_version(**coords(packageVersion="0.50.0"))["packageVersion"]
    assert described["status"] == "Published"
    with pytest.raises(client.exceptions.ConflictException, match="Published and cannot accept new assets"):
        publish(client, b"late", assetName="late.tar.gz", unfinished=True)


def test_status_updates_and_disposal_report_per_version(ca: tuple[Any, CodeArtifactState]) -> None:
    client, _ = ca
    publish(client, unfinished=True)
    base = coords(versions=["0.50.0", "9.9.9"])
    mismatched = client.update_package_versions_status(
        **base, expectedStatus="Published", targetStatus="Published"
    )
    assert mismatched["failedVersions"]["0.50.0"]["errorCode"] == "MISMATCHED_STATUS"
    assert mismatched["failedVersions"]["9.9.9"]["errorCode"] == "NOT_FOUND"
    done = client.update_package_versions_status(
        **base, expectedStatus="Unfinished", targetStatus="Published"
    )
    assert done["successfulVersions"]["0.50.0"]["status"] == "Published"
    assert "targetStatus" in validation_message(
        client, "update_package_versions_status", **base, targetStatus="Disposed"
    )
    disposed = client.dispose_package_versions(**coords(versions=["0.50.0"]), expectedStatus="Published")
    assert disposed["successfulVersions"]["0.50.0"]["status"] == "Disposed"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_package_version_asset(**coords(packageVersion="0.50.0", asset="trivy.tar.gz"))


def test_list_package_versions_pages_with_next_token(ca: tuple[Any, CodeArtifactState]) -> None:
    client, _ = ca
    for n in range(5):
        publish(client, packageVersion=f"1.{n}.0")
    first = client.list_package_versions(**coords(maxResults=2))
    assert [v["version"] for v in first["versions"]] == ["1.0.0", "1.1.0"] and first["nextToken"]
    pages = client.get_paginator("list_package_versions").paginate(
        **coords(), PaginationConfig={"PageSize": 2}
    )
    assert [v["version"] for page in pages for v in page["versions"]] == [f"1.{n}.0" for n in range(5)]
    assert "at 'maxResults'" in validation_message(client, "list_package_versions", **coords(maxResults=1001))


def test_missing_resources_are_404_with_their_type(ca: tuple[Any, CodeArtifactState]) -> None:
    client, _ = ca
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.describe_repository(domain=DOMAIN, repository="nope")
    assert caught.value.response["resourceType"] == "repository"
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.list_package_versions(**coords(package="grype"))
    assert caught.value.response["resourceType"] == "package"
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_authorization_token(domain="other-domain")
    assert caught.value.response["resourceType"] == "domain"


def test_tokens_and_endpoints(ca: tuple[Any, CodeArtifactState]) -> None:
    client, state = ca
    assert (
        client.get_authorization_token(domain=DOMAIN, durationSeconds=900)["authorizationToken"]
        == state.token
    )
    assert "durationSeconds" in validation_message(
        client, "get_authorization_token", domain=DOMAIN, durationSeconds=300
    )
    assert "at 'durationSeconds'" in validation_message(
        client, "get_authorization_token", domain=DOMAIN, durationSeconds=43201
    )
    endpoint = client.get_repository_endpoint(domain=DOMAIN, repository=REPO, format="generic")[
        "repositoryEndpoint"
    ]
    assert endpoint == f"https://{DOMAIN}-{OWNER}.d.codeartifact.eu-west-1.amazonaws.com/generic/{REPO}/"


def test_injected_failures_use_the_real_error_shapes(ca: tuple[Any, CodeArtifactState]) -> None:
    client, state = ca
    state.fail("DescribeRepository", "denied")
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.describe_repository(domain=DOMAIN, repository=REPO)
    state.fail("DescribeRepository", "throttle", times=2)
    with pytest.raises(client.exceptions.ThrottlingException) as throttled:
        client.describe_repository(domain=DOMAIN, repository=REPO)
    assert throttled.value.response["retryAfterSeconds"] == 1
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    state.fail("DescribeRepository", "internal", times=2)
    with pytest.raises(client.exceptions.InternalServerException):
        client.describe_repository(domain=DOMAIN, repository=REPO)
    state.fail("DescribeRepository", "expired")
    with pytest.raises(ClientError) as expired:
        client.describe_repository(domain=DOMAIN, repository=REPO)
    assert expired.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert expired.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert client.describe_repository(domain=DOMAIN, repository=REPO)["repository"]["name"] == REPO
    assert [c.status for c in state.operations("DescribeRepository")] == [403, 429, 429, 500, 500, 403, 200]
