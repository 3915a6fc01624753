"""Path convertors: a route's parameter that only ever matches its own shape, so a sibling
literal path (/devices/registration-typed-data) is never also a {address} (its 405 then names
only its own methods, and a wrong method there is 405, not a 422 about an address)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class AddressConvertor(Convertor[str]):
    """A 0x-prefixed 20-byte hex address (its checksum is the route's to check)."""

    regex = "0x[0-9a-fA-F]{40}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("address", AddressConvertor())
