"""The AWS API calls a code path really makes, recorded with botocore's own event hooks.

While recording, every botocore client made by any session gets a ``provide-client-params``
handler: botocore emits that event for each operation with the parameters the caller passed, before
they are validated or serialized, which is what IAM authorises (paginators and retries go through
it too, retries only once). Only string parameters are kept (names of domains, repositories,
packages, secrets), never bodies or secret values.

In a child process (a rendered buildspec's ``builder`` commands) recording starts from a
``sitecustomize`` module that ``child_environment`` puts first on PYTHONPATH; it appends one JSON
line per call to the file named by ``BUILDER_TEST_AWS_CALLS``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session

CALLS_FILE = "BUILDER_TEST_AWS_CALLS"
SITECUSTOMIZE = """\
import os
if os.environ.get("BUILDER_TEST_AWS_CALLS"):
    from tests.aws_calls import record_to_file
    record_to_file(os.environ["BUILDER_TEST_AWS_CALLS"])
"""


@dataclass(frozen=True)
class AwsCall:
    service: str  # the service's signing name: the IAM action prefix of the services used here
    operation: str  # the operation name, e.g. GetPackageVersionAsset
    region: str
    params: tuple[tuple[str, str], ...]  # the string parameters, sorted by name

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)

    def line(self) -> str:
        return json.dumps({"service": self.service, "operation": self.operation, "region": self.region,
                           "params": dict(self.params)})  # fmt: skip

    @classmethod
    def parse(cls, line: str) -> AwsCall:
        data = json.loads(line)
        return cls(data["service"], data["operation"], data["region"], tuple(sorted(data["params"].items())))

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}({', '.join(f'{k}={v}' for k, v in self.params)})"


def _strings(params: dict[str, Any]) -> dict[str, str]:
    """The string parameters; Security Hub names its product inside each finding and filter, which
    IAM authorises on: kept as ``ProductArn`` (the distinct values, space-separated)."""
    out = {k: v for k, v in params.items() if isinstance(v, str)}
    arns = {f.get("ProductArn") for f in params.get("Findings") or () if isinstance(f, dict)}
    arns |= {c.get("Value") for c in (params.get("Filters") or {}).get("ProductArn") or ()}
    if named := sorted(a for a in arns if isinstance(a, str)):
        out["ProductArn"] = " ".join(named)
    return out


def _hook(region: str, sink: Callable[[AwsCall], None]) -> Callable[..., None]:
    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        strings = tuple(sorted(_strings(params).items()))
        sink(AwsCall(model.service_model.signing_name, model.name, region, strings))

    return record


def install(sink: Callable[[AwsCall], None]) -> Callable[[], None]:
    """Record every call of every client made from now on; returns the function that stops it."""
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("provide-client-params", _hook(client.meta.region_name, sink))
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def stop() -> None:
        botocore.session.Session.create_client = original  # type: ignore[method-assign]

    return stop


@contextmanager
def recording() -> Iterator[list[AwsCall]]:
    """The calls made in this process inside the block (clients made inside it)."""
    calls: list[AwsCall] = []
    guard = threading.Lock()

    def sink(call: AwsCall) -> None:
        with guard:
            calls.append(call)

    stop = install(sink)
    try:
        yield calls
    finally:
        stop()


def record_to_file(path: str) -> None:
    """For the whole life of this process, append each call to ``path`` (one JSON line each)."""
    guard = threading.Lock()

    def sink(call: AwsCall) -> None:
        with guard, open(path, "a") as out:
            out.write(call.line() + "\n")

    install(sink)


def child_environment(env: dict[str, str], folder: Path, calls: Path, repo: Path) -> dict[str, str]:
    """``env`` for a child Python process that records its calls to ``calls``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(folder), str(repo), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, CALLS_FILE: str(calls)}


def read_calls(path: Path) -> list[AwsCall]:
    return [AwsCall.parse(line) for line in path.read_text().splitlines()] if path.exists() else []
