"""secp256k1 signatures as Ethereum uses them: 65 bytes r || s || v, recovered with coincurve."""

from __future__ import annotations

import re

import coincurve
from eth_utils.address import to_checksum_address

from core.errors import Eip712Error
from core.keccak import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIG_HEX = re.compile(r"0x[0-9a-fA-F]{130}")


def signature_from_hex(value: str) -> bytes:
    """Decode a 0x-prefixed 65-byte hex signature."""
    if not isinstance(value, str) or not _SIG_HEX.fullmatch(value):
        raise Eip712Error(f"signature must be 0x and 130 hex digits, got {value!r:.80}")
    return bytes.fromhex(value[2:])


def recover_digest_raw(digest: bytes, signature: bytes) -> bytes:
    """The signer's 20-byte address (no checksum text: the hot path compares bytes)."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise Eip712Error("digest must be 32 bytes")
    if not isinstance(signature, bytes | bytearray) or len(signature) != 65:
        raise Eip712Error("signature must be 65 bytes (r || s || v)")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise Eip712Error(f"signature v must be 27 or 28 (27 + recovery id), got {v}")
    # OpenZeppelin ECDSA refuses high s (the malleable twin); refuse it off-chain too.
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise Eip712Error("signature r or s out of range (s must be in the lower half)")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            bytes(signature[:64]) + bytes((v - 27,)), digest, hasher=None
        )
    except Exception as exc:  # coincurve raises plain Exception when no point recovers
        raise Eip712Error(f"signature does not recover to a public key: {exc}") from None
    return bytes(keccak(public.format(compressed=False)[1:])[-20:])


def recover_digest(digest: bytes, signature: bytes) -> str:
    """Checksummed signer address of a 32-byte digest; rejects high s and v outside {27, 28}."""
    return to_checksum_address(recover_digest_raw(digest, signature))
