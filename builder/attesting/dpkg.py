"""Debian packages as dpkg records them (/var/lib/dpkg/status): the base image's part of an SBOM."""

from __future__ import annotations

from dataclasses import dataclass

STATUS = "/var/lib/dpkg/status"
OS_RELEASE = "/etc/os-release"


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    source: str = ""  # the source package, when it differs from the binary one


def installed(status: str) -> tuple[DebPackage, ...]:
    """Every package dpkg lists as installed, sorted by name (half-removed ones are not in the image)."""
    found = []
    for stanza in status.split("\n\n"):
        fields = _fields(stanza)
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            source = fields.get("Source", "").split(" ", 1)[0]
            found.append(DebPackage(fields["Package"], fields.get("Version", ""),
                                    fields.get("Architecture", ""), source))  # fmt: skip
    return tuple(sorted(found, key=lambda p: (p.name, p.architecture)))


def _fields(stanza: str) -> dict[str, str]:
    """A stanza's fields; continuation lines (a leading space) belong to the field before."""
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line and not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def distro(os_release: str) -> str:
    """The purl ``distro`` qualifier: "debian-12" from ID and VERSION_ID ("" when unknown)."""
    values = {}
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    if values.get("ID") and values.get("VERSION_ID"):
        return f"{values['ID']}-{values['VERSION_ID']}"
    return values.get("ID", "")
