"""How long an upstream may take: the limits every HTTP client of builder keeps to.

They are builder.yaml's ``http:`` section (builder.config.settings reads it), defined here so
the HTTP clients in plumbing need nothing of the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpSettings:
    """How long an upstream may take (builder.yaml's ``http:``): a dead host is reported in about a minute.

    Every limit is in seconds. ``read_timeout`` is silence between bytes; the ``*_timeout`` of a
    request or a download bounds the whole of it, retries included; ``run_timeout`` every request
    of one run. Transient failures (connection errors, timeouts, 5xx, answers cut short) are
    retried ``retries`` times with exponential backoff.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    request_timeout: float = 60.0
    download_timeout: float = 600.0
    run_timeout: float = 3600.0
    retries: int = 3
