"""The `GS1-Signature` header of a subscription delivery (EPCIS 2.0 REST binding).

The binding leaves the algorithm to the implementation and names HMAC-SHA256 as an example.
chaintrace's, exactly: `GS1-Signature: sha256=<hex>` where <hex> is the lowercase hex HMAC-SHA256
of the request body's exact bytes, keyed with the subscription's `signatureToken` as UTF-8. The
body carries the delivery's stable id (`ct:deliveryID`) and its `creationDate`, so both are
signed. A subscription without a signatureToken gets no header.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "GS1-Signature"
_SCHEME = "sha256="


def sign(token: str, body: bytes) -> str:
    """The header value signing `body` with `token`."""
    digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def verify(token: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` under `token` (constant time)."""
    return hmac.compare_digest(sign(token, body), header.strip())
