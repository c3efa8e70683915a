"""Target platforms: the two Linux architectures images are built for."""

from __future__ import annotations

import platform as platform_module
from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.errors import UserError

if TYPE_CHECKING:
    from builder.config.document import Node

# Docker's arch name -> the machine name used by wheels (PEP 600) and uname.
_MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
SUPPORTED = tuple(f"linux/{arch}" for arch in _MACHINES)


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    arch: str

    @classmethod
    def parse(cls, text: str) -> Platform:
        if text not in SUPPORTED:
            raise ValueError(f"unsupported platform '{text}' (expected one of: {', '.join(SUPPORTED)})")
        os_name, arch = text.split("/")
        return cls(os_name, arch)

    @property
    def name(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def machine(self) -> str:
        return _MACHINES[self.arch]

    def __str__(self) -> str:
        return self.name


def read_platforms(node: Node) -> tuple[Platform, ...]:
    """A YAML list of platforms, each error at its own line."""
    out = []
    for item in node.items():
        try:
            out.append(Platform.parse(item.text()))
        except ValueError as e:
            raise item.error(str(e)) from None
    if not out:
        raise node.error("expected at least one platform")
    return tuple(out)


def host_platform() -> Platform:
    machine = platform_module.machine()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if arch is None:
        raise UserError(f"this machine ({machine}) is neither linux/amd64 nor linux/arm64: pass --platform")
    return Platform("linux", arch)
