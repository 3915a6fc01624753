"""Bounds on untrusted JSON checked before it is parsed: size and nesting depth.

Why before parsing: web3's dependency py_ecc raises the process's recursion limit to 100,000, so
a deeply nested document can overflow the C stack inside `json.loads` (a segfault, not an
exception). Even with the limit restored, a parser and every recursive encoder after it (a 422
that echoes the input) spend a frame per level. This scanner is iterative and runs at C speed:
string contents (where brackets are data) are removed by one regex, then the depth is the
largest running sum of +1 per opening and -1 per closing bracket.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from core.errors import CoreValueError

# Depth of a valid request or reading is under 10; 64 leaves room for any EPCIS event.
DEFAULT_MAX_DEPTH = 64

# A JSON string: a quote, runs of plain bytes and escapes, then a quote or the end of the input.
# Written so the engine never backtracks (an unterminated string simply runs to the end, and
# the parser refuses that document anyway): linear time on any input.
_STRING = re.compile(rb'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.DOTALL)
_DELTA = [0] * 256
for _open in b"[{":
    _DELTA[_open] = 1
for _close in b"]}":
    _DELTA[_close] = -1


class JsonTooDeepError(CoreValueError):
    """The document nests arrays/objects deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


class JsonTooLargeError(CoreValueError):
    """The document is larger than allowed."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"JSON of {size} bytes is larger than {max_bytes} bytes")
        self.size = size
        self.max_bytes = max_bytes


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in `data` (0 for a scalar); strings skipped.

    `json.loads(bytes)` also reads UTF-16 and UTF-32 (RFC 8259's detection), where a quote or a
    bracket is not one byte: such a document is scanned as the parser will read it, in UTF-8.
    """
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        # Undecodable bytes cannot be brackets or quotes once decoded: replacing them is safe.
        data = data.decode(encoding, errors="replace").encode("utf-8")
    structural = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not structural:
        return 0
    return max(0, max(accumulate(map(_DELTA.__getitem__, structural))))


def check_json_bounds(
    data: bytes, *, max_bytes: int | None = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> None:
    """Raise JsonTooLargeError / JsonTooDeepError unless `data` is within both bounds."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JsonTooLargeError(len(data), max_bytes)
    if json_depth(data) > max_depth:
        raise JsonTooDeepError(max_depth)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
