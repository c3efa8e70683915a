"""Addresses the HTTP client never connects to, whoever names them: an answer, a redirect, a file.

Link-local addresses are where a cloud keeps its instance metadata and credentials (EC2's
169.254.169.254 and fd00:ec2::254, the 169.254.170.2 that CodeBuild and Lambda containers read
their role's keys from). No release host lives there, so a URL that reaches one is an upstream
trying to turn the updater into a proxy to its own credentials.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

_METADATA = (ipaddress.ip_address("fd00:ec2::254"),)


def forbidden(url: str) -> bool:
    """Whether ``url``'s host is a literal address the client must not reach."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False  # not a URL: the request fails on its own
    address = _literal(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address.is_unspecified or address in _METADATA


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # The resolver also reads 2852039166, 0xa9.0xfe.0xa9.0xfe and 169.254.43518 as addresses.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
