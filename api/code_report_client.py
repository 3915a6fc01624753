"""Who reported a code, reduced to what dedup needs: a keyed hash of (client, code).

The client is the rate limiter's identity (an IPv4 address or an IPv6 /64). No address is
stored: only HMAC-SHA-256 under CODE_REPORT_KEY (or a random per-process key) of the client
with the code's GTIN and serial, cut to 128 bits. The same client gets another value on every
other code, so the stored values link no client's reports across codes, and without the key
nobody can test an address against them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from api.settings import ApiSettings

_PROCESS_KEY = secrets.token_bytes(32)


def _key(settings: ApiSettings) -> bytes:
    if settings.code_report_key is None:
        return _PROCESS_KEY
    return settings.code_report_key.get_secret_value().encode()


def client_hash(settings: ApiSettings, client: str, gtin: str, serial: str) -> str:
    """32 hex digits standing for `client` on the code (gtin, serial) only."""
    message = "\x00".join(("code-report", client, gtin, serial)).encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()[:32]
