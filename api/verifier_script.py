"""The item page's verifier script, served by us under SCRIPT_PATH: js-sha3's keccak (vendored
from npm under api/static/vendor/js-sha3 with its licence) followed by api/static/verify-bundle.js.
Its SHA-256 goes in the page's CSP and the script tag's `integrity`: exactly it may run."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
VENDORED_KECCAK = STATIC / "vendor" / "js-sha3" / "sha3.min.js"
VERIFIER = STATIC / "verify-bundle.js"
SCRIPT_PATH = "/static/verify-bundle.js"


def _body() -> bytes:
    return VENDORED_KECCAK.read_bytes() + b"\n" + VERIFIER.read_bytes()


SCRIPT = _body()
# A CSP hash source and an SRI value at once (both are "sha256-" + base64 of the digest).
INTEGRITY = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT).digest()).decode("ascii")
