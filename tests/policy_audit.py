"""The two checks over a deployment and the requests its roles make: nothing refused, nothing unused.

``needs`` maps what runs as a role (codebuild, updater, scheduler) to the actions AWS services
perform as that role outside any code of ours: the only grants that need no recorded request.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from tests.aws_calls import AwsCall
from tests.deployment import Deployment, Role
from tests.iam_check import Request, allowed, grant_used, grants, listed, requests_for

Needs = Mapping[str, set[str]]


def as_requests(calls: Mapping[str, list[AwsCall]]) -> dict[str, list[Request]]:
    return {runs: [q for call in found for q in requests_for(call)] for runs, found in calls.items()}


def role_of(deployment: Deployment, arn: str) -> str | None:
    return next((r.runs for r in deployment.roles.values() if r.arn == arn), None)


def denials(deployment: Deployment, requests: Mapping[str, list[Request]]) -> list[str]:
    """Each request a role makes that its identity policy, or the resource's policy, does not allow."""
    found = []
    for runs, wanted in requests.items():
        role = deployment.roles[runs]
        for request in wanted:
            if not allowed(role.statements, request):
                found.append(f"{runs} role: {request}: not allowed by its identity policy")
            for policy in (p for p in deployment.resource_policies if p.governs(request.resource)):
                if not allowed(policy.statements, request, role.arn):
                    found.append(f"{runs} role: {request}: not allowed by the {policy.name} policy")
    return found


def _unused_identity(role: Role, requests: list[Request], needs: set[str]) -> list[str]:
    return [
        f"{role.runs} role, statement {s.get('Sid')}: {action} on {resource} is used by no call"
        for s in role.statements
        for action, resource in grants(s)
        if action not in needs and not grant_used(s, action, resource, requests)
    ]


def _unused_resource_grants(deployment: Deployment, requests: Mapping[str, list[Request]]) -> list[str]:
    found = []
    for policy in deployment.resource_policies:
        for s in policy.statements:
            for principal in listed(s.get("Principal", {}).get("AWS", [])):
                runs = role_of(deployment, principal)
                if runs is None:
                    found.append(f"{policy.name} policy, {s.get('Sid')}: {principal} is none of the roles")
                    continue
                mine = [q for q in requests.get(runs, []) if policy.governs(q.resource)]
                found += [f"{policy.name} policy, {s.get('Sid')}: {a} on {r} for the {runs} role is used by no call"
                          for a, r in grants(s) if not grant_used(s, a, r, mine)]  # fmt: skip
    return found


def _role_grants_elsewhere(deployment: Deployment) -> list[str]:
    """Statements naming a role in a policy document these checks do not apply (a key policy, say)."""
    known = [s for p in deployment.resource_policies for s in p.statements]
    arns = {r.arn for r in deployment.roles.values()}
    return [
        f"{module}/{kind}/{name}: {s.get('Sid')} grants to a role; teach tests/deployment.py what it governs"
        for module, kinds in deployment.documents.items()
        for kind in ("resource", "key")
        for name, document in kinds.get(kind, {}).items()
        for s in listed(json.loads(document)["Statement"])
        if s.get("Effect") == "Allow" and arns & _principals(s) and s not in known
    ]


def _principals(statement: dict[str, object]) -> set[str]:
    """The AWS principals a statement names ("*" is a string, not a mapping)."""
    principal = statement.get("Principal", {})
    return set(listed(principal.get("AWS", []))) if isinstance(principal, dict) else {str(principal)}


def unused_grants(deployment: Deployment, requests: Mapping[str, list[Request]], needs: Needs) -> list[str]:
    """Each (action, resource) a policy grants a role that none of the role's requests uses."""
    found = [
        line
        for role in deployment.roles.values()
        for line in _unused_identity(role, requests.get(role.runs, []), needs.get(role.runs, set()))
    ]
    return found + _unused_resource_grants(deployment, requests) + _role_grants_elsewhere(deployment)


def stale_needs(deployment: Deployment, needs: Needs) -> list[str]:
    """Needs no policy grants any more (the list must stay short and true)."""
    return [
        f"{runs}: {action} is listed as a need but granted nowhere"
        for runs, actions in needs.items()
        for action in sorted(actions)
        if not any(a == action for s in deployment.roles[runs].statements for a, _ in grants(s))
    ]


def without(statements: tuple[Mapping[str, Any], ...], action: str) -> tuple[Mapping[str, Any], ...]:
    """The statements with ``action`` taken out (and statements left with no action dropped)."""
    kept = [{**s, "Action": [a for a in listed(s["Action"]) if a != action]} for s in statements]
    return tuple(s for s in kept if s["Action"])


def drop_from_identity(deployed: Deployment, runs: str, action: str) -> Deployment:
    role = deployed.roles[runs]
    roles = {**deployed.roles, runs: dataclasses.replace(role, statements=without(role.statements, action))}
    return dataclasses.replace(deployed, roles=roles)


def drop_from_resource_policies(deployed: Deployment, action: str) -> Deployment:
    """``action`` taken out of every resource policy (a policy left with no statement stays, granting nothing)."""
    policies = tuple(
        dataclasses.replace(p, statements=without(p.statements, action)) for p in deployed.resource_policies
    )
    return dataclasses.replace(deployed, resource_policies=policies)
