"""A single executable release file, installed as /opt/tools/<tool>/<entry point> and linked into PATH."""

from __future__ import annotations

from builder.kinds.release_files import ReleaseFileKind


class Binary(ReleaseFileKind):
    name = "binary"
