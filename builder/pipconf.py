"""The user's own pip configuration: which index Python apps are resolved and installed from.

builder.yaml's ``indexes.pip`` wins; otherwise what pip itself would use (``PIP_INDEX_URL``, then
``pip config``), so a corporate mirror needs no setting here. No index host is written in this code.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def pip_index_url(configured: str | None, env: Mapping[str, str], run: Runner = subprocess.run) -> str | None:
    """The index to resolve against: builder.yaml, else the user's own pip configuration."""
    if configured:
        return configured
    return env.get("PIP_INDEX_URL") or _pip_config("global.index-url", run)


def pip_cert(env: Mapping[str, str], run: Runner = subprocess.run) -> str | None:
    """The CA bundle the user's pip trusts (``PIP_CERT``, then ``pip config``'s ``global.cert``).

    A host behind a TLS-inspecting proxy trusts the proxy's CA only through this: the base image's
    own bundle does not hold it, so an in-build pip needs the same file to reach the same index.
    """
    return env.get("PIP_CERT") or _pip_config("global.cert", run)


def _pip_config(key: str, run: Runner) -> str | None:
    try:
        result = run(["python3", "-m", "pip", "config", "get", key], capture_output=True, text=True)
    except OSError:  # no python3 on PATH: then no pip configuration either, and uv's default stands
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
