"""Webhook destinations: http(s) URLs whose host resolves only to public addresses (unless a
setting allows private ones), checked when a subscription is made and again at each delivery,
which then connects to the address it checked (no second lookup a DNS answer could change)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_URL = 2048


class DestRefused(ValueError):
    """The destination is not one deliveries may go to (the message says why)."""


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL with the checked address, and the Host / SNI name."""

    url: str
    host_header: str
    sni_hostname: str | None


def _parts(dest: str) -> tuple[str, str, int]:
    if len(dest) > MAX_URL:
        raise DestRefused(f"at most {MAX_URL} characters")
    try:
        parts = urlsplit(dest)
        port = parts.port
    except ValueError as exc:
        raise DestRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise DestRefused("only http and https destinations")
    if not parts.hostname:
        raise DestRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise DestRefused("credentials in the URL are not accepted: use signatureToken")
    if parts.fragment:
        raise DestRefused("a fragment is not sent: leave it out")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _allowed(address: IpAddress, allow_private: bool, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback or allow_private
    if address.is_multicast or address.is_unspecified:
        return False
    return address.is_global or allow_private


def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestRefused(f"the host does not resolve: {exc}") from None
    # An IPv6 scope ("fe80::1%eth0") is link-local anyway: refused below.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_dest(dest: str, *, allow_private: bool, allow_loopback: bool) -> Target:
    """The target of `dest` after resolving its host; DestRefused if any address it resolves
    to is loopback, private, link-local or otherwise not public (and not allowed)."""
    scheme, host, port = _parts(dest)
    addresses = _resolve(host, port)
    if not addresses:
        raise DestRefused("the host does not resolve")
    for address in addresses:
        if not _allowed(address, allow_private, allow_loopback):
            raise DestRefused(f"{host} resolves to a non-public address ({address})")
    parts = urlsplit(dest)
    first = addresses[0]
    literal = f"[{first}]" if first.version == 6 else str(first)
    default = (scheme, port) in (("http", 80), ("https", 443))
    netloc = literal if default and parts.port is None else f"{literal}:{port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        ipaddress.ip_address(host)
        sni = None
    except ValueError:
        sni = host
    url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(url, host_header, sni)
