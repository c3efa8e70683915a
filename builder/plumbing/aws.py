"""The one place boto3 clients are made: each honours its BUILDER_*_ENDPOINT, and a broken AWS
configuration (a credential_process that does not exist, a bad config file) is one line, not a
traceback: botocore raises plain OSError and ValueError for those, not only its own errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builder.errors import UserError

_ENDPOINTS = {  # another endpoint per service, e.g. a local double in tests
    "codeartifact": "BUILDER_CODEARTIFACT_ENDPOINT",
    "secretsmanager": "BUILDER_SECRETSMANAGER_ENDPOINT",
    "securityhub": "BUILDER_SECURITYHUB_ENDPOINT",
}
# What botocore can raise while it reads configuration and credentials.
SETUP_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError)


def client(service: str, env: Mapping[str, str], region: str | None = None) -> Any:
    import boto3  # imported late: only AWS work needs it
    from botocore.exceptions import BotoCoreError

    endpoint = env.get(_ENDPOINTS.get(service, ""), "") or None
    try:
        # A session of its own: boto3's default one lives for the process and keeps the
        # credentials it first found, whatever the environment says later.
        return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint)
    except (BotoCoreError, *SETUP_ERRORS) as e:
        raise UserError(f"cannot set up an AWS {service} client: {type(e).__name__}: {e}") from None
