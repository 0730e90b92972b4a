"""Where a webhook may go: only http(s), and only to public addresses.

Targets are checked when a subscription is saved and again before every attempt (DNS may
change in between); the request then goes to the address that was checked, so a second
DNS answer cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class TargetRefused(Exception):
    """The URL may not be called (scheme, or an address that is not public)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    host_header: str
    addresses: tuple[str, ...]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refusal(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for what, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
    ):
        if flag:
            return what
    return None if ip.is_global else "not public"


def target_of(url: str) -> Target:
    """Parse and resolve ``url``; raise TargetRefused unless every address may be called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise TargetRefused("the URL names no host")
    if parts.username or parts.password:
        raise TargetRefused("put no credentials in the URL; the signature authenticates us")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("the URL's port is not a number from 1 to 65535") from None
    try:
        addresses = _resolve(parts.hostname, port)
    except (OSError, UnicodeError) as error:
        raise TargetRefused(f"cannot resolve {parts.hostname}: {error}") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            why = _refusal(address)
            if why is not None:
                raise TargetRefused(
                    f"{parts.hostname} resolves to {address}, a {why} address; webhooks go "
                    "to public addresses only (WEBHOOK_ALLOW_PRIVATE_TARGETS allows others)"
                )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, parts.netloc, tuple(addresses))


def url_problem(url: str) -> str | None:
    """Why webhooks to ``url`` would be refused, or None."""
    try:
        target_of(url)
    except TargetRefused as error:
        return str(error)
    return None
