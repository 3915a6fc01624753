"""Which request paths are the GS1 resolver's: Digital Links (/01/...), compressed Digital Links
(one path segment that decompresses to a GTIN link) and the resolver's description file. They,
and only they, get CORS and the resolver's caching (api/security_headers.py,
api/resolver_http.py)."""

from __future__ import annotations

from core.digital_link_compression import CompressedLink, decompress
from core.errors import DigitalLinkError

WELL_KNOWN = "/.well-known/gs1resolver"
ALLOWED_METHODS = ("GET", "HEAD", "OPTIONS")


def compressed_link(path: str) -> CompressedLink | None:
    """What a path of one compressed Digital Link segment holds, or None if it is not one."""
    segment = path[1:] if path.startswith("/") else path
    if segment.endswith("/"):
        segment = segment[:-1]
    if not segment or "/" in segment:
        return None
    try:
        return decompress(segment)
    except DigitalLinkError:
        return None


def is_resolver_path(path: str) -> bool:
    """True for the resolver's paths."""
    if path.startswith("/01/") or path == WELL_KNOWN:
        return True
    return compressed_link(path) is not None
