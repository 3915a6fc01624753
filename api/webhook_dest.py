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


# IPv6 ranges whose address carries an IPv4 one that a gateway may connect to: NAT64
# (RFC 6052, RFC 8215) and the deprecated IPv4-compatible form, in the last 32 bits.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # :: and ::1 are themselves (unspecified, loopback)


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64, compatible), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _allowed(address: IpAddress, allow_private: bool, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded(address)
        if embedded is not None:
            address = embedded
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
