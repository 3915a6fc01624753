"""Accept-style headers (Accept, Accept-Language): their ranges and q values, read once for
every negotiation."""

from __future__ import annotations


def weighted(header: str, limit: int | None = None) -> list[tuple[str, float]]:
    """The header's ranges in order, each with its q value (a malformed q counts as 0); empty
    ones left out; at most the first `limit` read."""
    ranges: list[tuple[str, float]] = []
    for part in header.split(",")[:limit]:
        value, *params = (p.strip() for p in part.split(";"))
        if not value:
            continue
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        ranges.append((value, q))
    return ranges


def accept_q(accept: str) -> dict[str, float]:
    """Media ranges of an Accept header with their q values (the highest where repeated)."""
    ranges: dict[str, float] = {}
    for media, q in weighted(accept):
        ranges[media.lower()] = max(q, ranges.get(media.lower(), 0.0))
    return ranges
