"""A release archive (tar or zip), unpacked into /opt/tools/<tool>, its entry points linked into PATH."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.config.catalogue import Install
from builder.config.document import Node
from builder.config.platforms import Platform
from builder.kinds.base import Payload, entry_points
from builder.kinds.release_files import ReleaseFileKind, read_assets

if TYPE_CHECKING:
    from builder.config.catalogue import Tool


@dataclass(frozen=True)
class ArchiveInstall(Install):
    strip_components: int = 0  # leading folders tar drops (zip archives have none to drop)


class Archive(ReleaseFileKind):
    name = "archive"
    keys = ("assets", "entry_points", "strip_components")

    def read_install(self, fields: Mapping[str, Node], tool: str) -> Install:
        return ArchiveInstall(
            self.name,
            entry_points(fields.get("entry_points"), tool),
            read_assets(fields, self.name),
            _strip_components(fields.get("strip_components")),
        )

    def template_values(
        self, tool: Tool, payload: Payload, platforms: tuple[Platform, ...]
    ) -> dict[str, object]:
        strip = tool.install.strip_components if isinstance(tool.install, ArchiveInstall) else 0
        return {**super().template_values(tool, payload, platforms), "strip_components": strip}


def _strip_components(node: Node | None) -> int:
    value = node.integer() if node is not None else 0
    if node is not None and not 0 <= value <= 16:
        raise node.error(f"expected 0 to 16 leading folders to strip, found {value}")
    return value
