"""Exception hierarchy of the pure core: one root, each error also a ValueError."""

from __future__ import annotations


class CoreError(Exception):
    """Root of every error raised by core/."""


class CoreValueError(CoreError, ValueError):
    """A value handed to core/ is malformed or out of range."""


class MerkleError(CoreValueError):
    """Bad Merkle tree input: empty, wrong length, duplicate, or unknown leaf."""


class Gs1Error(CoreValueError):
    """Bad GS1 identifier: GTIN, company prefix, serial, GLN or EPC URN."""


class DigitalLinkError(Gs1Error):
    """Bad GS1 Digital Link URI."""


class Eip712Error(CoreValueError):
    """Bad EIP-712 message field, domain or signature."""


class SlaError(CoreValueError):
    """Bad SLA policy, reading or window."""


class LinkError(CoreValueError):
    """Bad resolver link: link type, href, title, hreflang or media type."""
