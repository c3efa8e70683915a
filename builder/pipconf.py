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
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"]
    try:
        argv = ["python3", "-m", "pip", "config", "get", "global.index-url"]
        result = run(argv, capture_output=True, text=True)
    except OSError:  # no python3 on PATH: then no pip configuration either, and uv's default stands
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
