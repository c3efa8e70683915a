"""The user's own pip configuration: which index Python apps are resolved and installed from.

builder.yaml's ``indexes.pip`` wins; otherwise what pip itself would use (``PIP_INDEX_URL``, then
``pip config``), so a corporate mirror needs no setting here. No index host is written in this code.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def pip_index_url(configured: str | None, env: Mapping[str, str], run: Runner = subprocess.run) -> str | None:
    """The index to resolve against: builder.yaml, else the user's own pip configuration."""
    if configured:
        return configured
    return env.get("PIP_INDEX_URL") or _pip_config("global.index-url", env, run)


def pip_cert(env: Mapping[str, str], run: Runner = subprocess.run) -> str | None:
    """The CA bundle the user's pip trusts (``PIP_CERT``, then ``pip config``'s ``global.cert``).

    A host behind a TLS-inspecting proxy trusts the proxy's CA only through this: the base image's
    own bundle does not hold it, so an in-build pip needs the same file to reach the same index.
    """
    return env.get("PIP_CERT") or _pip_config("global.cert", env, run)


def _pip_config(key: str, env: Mapping[str, str], run: Runner) -> str | None:
    """``key`` as pip's merged configuration has it. Not ``pip config get``: that finds no key set
    only in the site-wide /etc/pip.conf ("No such key"), which ``pip config list`` does show."""
    # pip reads its configuration as ``env`` says (PIP_CONFIG_FILE, HOME): not only this process's.
    argv = ["python3", "-m", "pip", "config", "list"]
    try:
        result = run(argv, capture_output=True, text=True, env={**os.environ, **env})
    except OSError:  # no python3 on PATH: then no pip configuration either, and uv's default stands
        return None
    if result.returncode != 0:
        return None
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        if name == key and len(value) >= 2 and value[0] == value[-1] == "'":
            return value[1:-1] or None
    return None
