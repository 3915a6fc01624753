"""Strategies schemathesis uses for the API's own string formats (SCHEMATHESIS_HOOKS names this
module): valid values a pattern alone cannot describe (a GTIN's check digit, an EIP-55 checksum)."""

from __future__ import annotations

import schemathesis
from eth_utils import to_checksum_address
from hypothesis import strategies as st

from core.gs1 import check_digit


def _gtin(body: str) -> str:
    return body + check_digit(body)


schemathesis.openapi.format(
    "gs1-gtin",
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n).map(_gtin)
    ),
)
schemathesis.openapi.format(
    "eth-address",
    st.binary(min_size=20, max_size=20).flatmap(
        lambda raw: st.sampled_from(["0x" + raw.hex(), to_checksum_address(raw)])
    ),
)


def _location(company: str, location: str, extension: str | None) -> str:
    gln = _gtin(company + location)
    if extension is None:
        return gln
    return f"urn:epc:id:sgln:{company}.{location}.{extension}"


schemathesis.openapi.format(
    "gs1-location",  # a GLN, or an SGLN URN whose prefix and location reference make 12 digits
    st.integers(min_value=6, max_value=12).flatmap(
        lambda n: st.builds(
            _location,
            st.text("0123456789", min_size=n, max_size=n),
            st.text("0123456789", min_size=12 - n, max_size=12 - n),
            st.none() | st.text("0123456789ABCxyz", min_size=1, max_size=20),
        )
    ),
)
