"""The OpenAPI document itself, and what the fuzzing cannot see: every reference resolves, every
path's 405 names all its methods, uint inputs refuse JSON numbers JavaScript would have rounded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from api.schemas.common import SERIAL_PATTERN
from api.schemas.eth_json import SAFE_INTEGER_MAX, is_wide_int, typed_data_json, uint_in
from core.gs1 import CS82
from tests.api.flows import Api, auth


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    return set()


def test_every_reference_resolves_and_every_error_has_a_body(api_no_chain: Api) -> None:
    document = api_no_chain.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response.get("content"), (method, path, status)


def test_405_names_every_method_of_the_path(api_no_chain: Api) -> None:
    document = api_no_chain.client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        if "{shipment_id}" in path or "{root}" in path:
            url = re.sub(r"/1(?=/|$)", "/0x" + "11" * 32, url, count=1)
        if "{address}" in path:
            url = url.replace("/1", "/0x" + "11" * 20)
        answer = api_no_chain.client.request("PUT", url)
        if "put" in operations:
            continue
        assert answer.status_code == 405, (path, answer.status_code)
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert allowed == {m.upper() for m in operations}, (path, allowed)


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(v) for v in node))
    return set()


def test_every_pattern_compiles_as_ecma_262_unicode(api_no_chain: Api) -> None:
    """JSON Schema patterns are ECMA-262 regexes: a JavaScript validator compiles each one."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    patterns = sorted(_patterns(api_no_chain.client.get("/openapi.json").json()))
    script = "for (const p of JSON.parse(process.argv[1])) new RegExp(p, 'u')"
    done = subprocess.run(
        [node, "-e", script, json.dumps(patterns)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_serial_pattern_is_cs82_and_ecma_safe() -> None:
    allowed = {chr(c) for c in range(0x20, 0x7F) if re.fullmatch(SERIAL_PATTERN, chr(c))}
    assert allowed == set(CS82)
    assert "\\&" not in SERIAL_PATTERN and re.fullmatch(SERIAL_PATTERN, "A" * 21) is None


def test_uint_inputs_take_decimal_strings_and_only_safe_numbers() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(uint_in(256, minimum=1))
    assert adapter.validate_python("1234567890123456789") == 1234567890123456789
    assert adapter.validate_python(SAFE_INTEGER_MAX) == SAFE_INTEGER_MAX
    assert adapter.validate_python(5.0) == 5  # JSON Schema's integer includes 5.0
    for wrong in (
        SAFE_INTEGER_MAX + 1,
        "0",
        "01",
        "+1",
        " 1",
        "1e3",
        "0x10",
        "١٢٣",
        True,
        1.5,
        "9" * 78,
    ):
        with pytest.raises(ValidationError):
            adapter.validate_python(wrong)
    with pytest.raises(ValidationError, match="send uint256 as a decimal string"):
        adapter.validate_python(1_234_567_890_123_456_789)


def test_typed_data_integers_wider_than_53_bits_are_strings() -> None:
    assert [is_wide_int(t) for t in ("uint256", "uint", "int64", "uint32", "int8", "address")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    typed = {
        "types": {"T": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "uint32"}]},
        "primaryType": "T",
        "domain": {},
        "message": {"a": 10**18, "b": 7},
    }
    assert typed_data_json(typed)["message"] == {"a": str(10**18), "b": 7}


def test_a_big_json_number_is_refused_with_the_reason(api: Api) -> None:
    key = api.principal("buyer", api.chain.buyer.address if api.chain else None)
    body = json.dumps({"payoutWei": 1_234_567_890_123_456_789})
    answer = api.client.post(
        "/shipments/0x" + "11" * 32 + "/dispute/resolve-tx",
        content=body,
        headers={**auth(key), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert "send uint256 as a decimal string" in answer.json()["detail"][0]["msg"]
