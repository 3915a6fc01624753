"""The one exception raised by core.epcis for malformed EPCIS input."""

from __future__ import annotations

from core.errors import CoreValueError


class EpcisError(CoreValueError):
    """An EPCIS event or document is malformed: not a JSON object, wrong field type, bad value."""
