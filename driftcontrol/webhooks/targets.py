"""Where a webhook may go: only http(s), and only to public addresses.

Targets are checked when a subscription is saved and again before every attempt (DNS may
change in between); the request then goes to the address that was checked, so a second
DNS answer cannot redirect it.

IPv6 has several spellings of an IPv4 address ([::ffff:127.0.0.1], NAT64's
[64:ff9b::7f00:1], 6to4's [2002:7f00:1::]), and Python's flags call most of them
global: the IPv4 address inside is what is judged.
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 addresses that are an IPv4 address in other clothes: the host reached is the IPv4
# one (IPv4-mapped, IPv4-compatible, NAT64's well-known prefix, RFC 6052).
_TRANSLATED = tuple(
    ipaddress.IPv6Network(net) for net in ("::ffff:0:0/96", "::/96", "64:ff9b::/96")
)
# NAT64's local-use prefix (RFC 8215): each network places the IPv4 address where it
# likes, so nothing inside can be judged; it is not reachable from the internet anyway.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _judged(ip: IPAddress) -> list[IPAddress]:
    """The addresses a connection to ``ip`` reaches: the IPv4 address a translated IPv6
    address stands for; for tunnels (6to4, Teredo) both ends, since either may be local."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if int(ip) > 1 and any(ip in net for net in _TRANSLATED):  # not :: or ::1
        return [ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)]
    tunnelled = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    return [ip] if tunnelled is None else [ip, tunnelled]


def _refusal(address: str) -> str | None:
    """Why ``address`` may not be called ("10.0.0.5, a private address"), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip in _LOCAL_NAT64:
        return f"{address}, a local-use NAT64 address"
    for judged in _judged(ip):
        why = _flagged(judged)
        if why is not None:
            inside = "" if judged == ip else f" (IPv4 {judged})"
            article = "an" if why[0] in "aeiou" else "a"
            return f"{address}{inside}, {article} {why} address"
    return None


def _flagged(ip: IPAddress) -> str | None:
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
                    f"{parts.hostname} resolves to {why}; webhooks go to public addresses "
                    "only (WEBHOOK_ALLOW_PRIVATE_TARGETS allows others)"
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
