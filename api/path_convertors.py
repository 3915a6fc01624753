"""Path convertors: a parameter segment that never takes a sibling literal path's name, so
/devices/registration-typed-data is never also /devices/{address} (its 405 names only its own
methods; a DELETE there is 405, not a 422 about an address). Anything else still reaches the
route, whose validator names what is wrong with it (422)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class DeviceSegmentConvertor(Convertor[str]):
    """Any one path segment except the literal device routes."""

    regex = "(?!registration-typed-data$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("device", DeviceSegmentConvertor())
