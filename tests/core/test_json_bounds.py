"""core.json_bounds: nesting depth and size of untrusted JSON, checked before any parser runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.json_bounds import (
    JsonTooDeepError,
    JsonTooLargeError,
    check_json_bounds,
    json_depth,
)

# Strings full of the characters that could fool a scanner: brackets, quotes, backslashes.
_tricky_text = st.text(alphabet='[]{}"\\,:ab\n\u00e9', max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=4),
    max_leaves=30,
)


def _true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_true_depth(v) for v in value.values()), default=0)
    return 0


@given(_values)
@example(["[[[[", {"}}}": "\\"}])
@example('\\"[')
@example({"a": [[["\\\\"]]]})
def test_depth_matches_the_parsed_structure(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert json_depth(text.encode()) == _true_depth(value)


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b"", 0),
        (b"42", 0),
        (b"[]", 1),
        (b'{"a":{"b":[1,{"c":[]}]}}', 5),
        (b'["]]]]", "[[[["]', 1),
        (b'["a\\\\"]', 1),  # an escaped backslash ends the string: the bracket after it counts
        (b'["a\\"]"]', 1),  # an escaped quote does not end it
        (b"]]]][", 0),  # malformed: never negative; the parser stops at the first "]"
        (b'["unterminated [[[[', 1),
    ],
)
def test_pinned_depths(data: bytes, depth: int) -> None:
    assert json_depth(data) == depth


def test_the_bomb_that_crashed_the_api_is_refused_without_parsing() -> None:
    bomb = b"[" * 99_000 + b"]" * 99_000
    with pytest.raises(JsonTooDeepError, match="deeper than 64"):
        check_json_bounds(bomb)
    check_json_bounds(b"[" * 64 + b"]" * 64)  # exactly at the bound is fine


def test_size_is_checked_first() -> None:
    with pytest.raises(JsonTooLargeError, match="larger than 10 bytes"):
        check_json_bounds(b'"' + b"x" * 20 + b'"', max_bytes=10)
    check_json_bounds(b"[1,2]", max_bytes=5)


def test_hostile_strings_stay_linear() -> None:
    # An unterminated string of escaped quotes made a backtracking scanner quadratic.
    data = b'"' + b'\\"' * 500_000 + b"\\"
    assert json_depth(data) == 0


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"])
def test_utf16_and_utf32_are_scanned_as_the_parser_reads_them(encoding: str) -> None:
    # In UTF-16 U+2200 is the bytes 00 22: a byte scanner saw a quote there and took every
    # bracket after it for string contents, while json.loads(bytes) decodes and recurses.
    document = '["\u2200",' + "[" * 500 + "]" * 500 + "]"
    data = document.encode(encoding)
    assert json.detect_encoding(data) != "utf-8"
    assert json_depth(data) == 501 == _true_depth(json.loads(data))
    with pytest.raises(JsonTooDeepError):
        check_json_bounds(data)


@given(_values, st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le"]))
def test_depth_matches_in_every_encoding_json_reads(value: Any, encoding: str) -> None:
    data = json.dumps(value, ensure_ascii=False).encode(encoding)
    assert json_depth(data) == _true_depth(json.loads(data))
