"""What IAM authorises for a recorded AWS call, and whether a set of policy statements allows it.

A call becomes one or more ``Request``s: the action, the ARN of the resource it is authorised on
and the condition keys it carries. The resource type of each CodeArtifact operation follows the
Service Authorization Reference and the user guide's permissions reference: an operation on a
package (it names a ``package``) is authorised on the package ARN
``arn:aws:codeartifact:REGION:OWNER:package/DOMAIN/REPO/FORMAT/NAMESPACE/NAME``, one on a
repository on ``.../repository/DOMAIN/REPO``, one on a domain on ``.../domain/DOMAIN``.
Security Hub's BatchImportFindings is authorised on the product ARN its findings name
(``arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`` for the account's own),
GetFindings on the account's hub (``...:hub/default``). Two CodeArtifact calls need more than their own action:

- ``GetAuthorizationToken`` also needs ``sts:GetServiceBearerToken`` (no resource type), with
  ``sts:AWSServiceName = codeartifact.amazonaws.com``;
- ``GetRepositoryEndpoint``: builder hands every endpoint it asks for to pip or npm, which read it
  with the token: ``codeartifact:ReadFromRepository`` on that repository.

The evaluation is IAM's for what these policies use: Allow and Deny, ``*``/``?`` wildcards
(actions case-insensitive), string and ARN condition operators. Anything else (NotAction,
NotResource, NotPrincipal, other operators) raises ``Unsupported``: the check must be taught it
rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.aws_calls import AwsCall

BEARER = ("sts:GetServiceBearerToken", (("sts:AWSServiceName", "codeartifact.amazonaws.com"),))
CONDITIONS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike"}


class Unsupported(Exception):
    """A policy or a call this check does not know how to evaluate."""


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...]
    because: str  # the recorded call it comes from

    def __str__(self) -> str:
        extra = "".join(f" [{k}={v}]" for k, v in self.context)
        return f"{self.action} on {self.resource}{extra} (for {self.because})"


def _codeartifact_arn(call: AwsCall) -> str:
    owner, domain = call.param("domainOwner"), call.param("domain")
    if not owner or not domain:
        raise Unsupported(f"{call}: a CodeArtifact call without domain and domainOwner")
    prefix = f"arn:aws:codeartifact:{call.region}:{owner}"
    repository, package = call.param("repository"), call.param("package")
    if package:
        path = f"{repository}/{call.param('format')}/{call.param('namespace') or ''}/{package}"
        return f"{prefix}:package/{domain}/{path}"
    if repository:
        return f"{prefix}:repository/{domain}/{repository}"
    return f"{prefix}:domain/{domain}"


def _resource(call: AwsCall) -> str:
    if call.service == "codeartifact":
        return _codeartifact_arn(call)
    if call.service == "secretsmanager":
        secret = call.param("SecretId") or ""
        if not secret.startswith("arn:"):
            raise Unsupported(f"{call}: name the secret by its ARN (IAM authorises the ARN)")
        return secret
    if call.service == "securityhub":
        return _security_hub_arn(call)
    raise Unsupported(f"{call}: no rule for the resource ARN of {call.service} calls; add one")


def _security_hub_arn(call: AwsCall) -> str:
    """BatchImportFindings is authorised on the product its findings name; GetFindings on the hub."""
    product = call.param("ProductArn") or ""
    if not product.startswith("arn:") or " " in product:
        raise Unsupported(f"{call}: name exactly one product ARN in the findings (or the filter)")
    if call.operation == "BatchImportFindings":
        return product
    if call.operation == "GetFindings":
        return f"arn:aws:securityhub:{call.region}:{product.split(':')[4]}:hub/default"
    raise Unsupported(f"{call}: no rule for securityhub:{call.operation}")


def requests_for(call: AwsCall) -> list[Request]:
    """Every authorisation one call needs."""
    resource = _resource(call)
    found = [Request(f"{call.service}:{call.operation}", resource, (), str(call))]
    if (call.service, call.operation) == ("codeartifact", "GetAuthorizationToken"):
        found.append(Request(BEARER[0], "*", BEARER[1], str(call)))
    if (call.service, call.operation) == ("codeartifact", "GetRepositoryEndpoint"):
        found.append(Request("codeartifact:ReadFromRepository", resource, (), f"pip/npm reading {call}"))
    return found


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(text, re.IGNORECASE if ignore_case else 0)


def matches(glob: str, value: str, ignore_case: bool = False) -> bool:
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, tests in statement.get("Condition", {}).items():
        if operator not in CONDITIONS:
            raise Unsupported(f"condition operator {operator} in {statement.get('Sid')}")
        for key, wanted in tests.items():
            exact = operator.endswith("Equals")
            got = context.get(key)
            if got is None or not any(w == got if exact else matches(w, got) for w in listed(wanted)):
                return False
    return True


def _principal_matches(statement: Mapping[str, Any], principal: str | None) -> bool:
    if principal is None:
        return "Principal" not in statement
    given = statement.get("Principal")
    return given == "*" or (isinstance(given, dict) and principal in listed(given.get("AWS", [])))


def statement_applies(statement: Mapping[str, Any], request: Request, principal: str | None = None) -> bool:
    unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    if unsupported:
        raise Unsupported(f"{', '.join(sorted(unsupported))} in {statement.get('Sid')}")
    return (
        _principal_matches(statement, principal)
        and any(matches(a, request.action, ignore_case=True) for a in listed(statement["Action"]))
        and any(matches(r, request.resource) for r in listed(statement["Resource"]))
        and _conditions_hold(statement, dict(request.context))
    )


def allowed(statements: Iterable[Mapping[str, Any]], request: Request, principal: str | None = None) -> bool:
    """IAM's answer for one policy set: some Allow applies and no Deny does."""
    applying = [s for s in statements if statement_applies(s, request, principal)]
    return any(s["Effect"] == "Allow" for s in applying) and all(s["Effect"] != "Deny" for s in applying)


def grants(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (action, resource) pair an Allow statement names."""
    if statement["Effect"] != "Allow":
        return []
    return [(a, r) for a in listed(statement["Action"]) for r in listed(statement["Resource"])]


def grant_used(statement: Mapping[str, Any], action: str, resource: str, requests: Iterable[Request]) -> bool:
    """Does some request fall under this one (action, resource) of the statement, conditions included?"""
    return any(
        matches(action, q.action, ignore_case=True)
        and matches(resource, q.resource)
        and _conditions_hold(statement, dict(q.context))
        for q in requests
    )
