"""What an image holds, as OSV names it: every locked package and every audited binary, from the lock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from builder.config.catalogue import Tool
from builder.config.project import Project
from builder.kinds.npm_package import NpmTree
from builder.kinds.python_app import Requirements
from builder.locking.lockfile import LockedTool, Lockfile


@dataclass(frozen=True, order=True)
class Component:
    tool: str
    ecosystem: str  # OSV's spelling: PyPI, npm, Go, Bitnami
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.ecosystem}, in {self.tool})"


@dataclass(frozen=True)
class Unaudited:
    """A locked tool no OSV package stands for (a binary without ``audit:`` in tools.yaml)."""

    tool: str
    version: str


def image_tools(project: Project, images: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Tool -> the images (of those named) that install it."""
    out: dict[str, list[str]] = {}
    for image in images:
        for tool in project.images[image].tools:
            out.setdefault(tool, []).append(image)
    return {tool: tuple(names) for tool, names in sorted(out.items())}


def components(tools: Iterable[Tool], lock: Lockfile) -> tuple[list[Component], list[Unaudited]]:
    """Each tool's locked packages (its own version, for a binary audited as one package)."""
    found: set[Component] = set()
    missing = []
    for tool in tools:
        locked = lock.get(tool.name, tool.where)
        packages = _packages(tool, locked)
        if packages is None:
            missing.append(Unaudited(tool.name, locked.version))
        found.update(packages or ())
    return sorted(found), missing


def _packages(tool: Tool, locked: LockedTool) -> list[Component] | None:
    payload = locked.payload
    if isinstance(payload, Requirements):
        return [
            Component(tool.name, "PyPI", r.name, r.version) for rs in payload.platforms.values() for r in rs
        ]
    if isinstance(payload, NpmTree):
        return [Component(tool.name, "npm", _npm_name(p.path), p.version) for p in payload.packages if p.path]
    if tool.audit is not None:
        return [Component(tool.name, tool.audit.ecosystem, tool.audit.package, locked.version)]
    return None


def _npm_name(path: str) -> str:
    """``node_modules/a/node_modules/@scope/b`` is the package ``@scope/b``."""
    return path.rpartition("node_modules/")[2]
