"""The Accept header's media ranges, read once for every content negotiation."""

from __future__ import annotations


def accept_q(accept: str) -> dict[str, float]:
    """Media ranges of an Accept header with their q values (a malformed q counts as 0)."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges[media.lower()] = max(q, ranges.get(media.lower(), 0.0))
    return ranges
