"""EIP-712 type hashes, struct hashes, digests: the contracts = core.eip712 = eth-account."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from eth_utils.crypto import keccak

from chain.clients import TraceAnchorV2Client
from core import eip712
from core.merkle import LEAF_V1, leaf_hash, member_leaf_hash
from tests.chain import typed_data
from tests.utils.anvil import ChainEnv

ADDRS = [
    "0x0000000000000000000000000000000000000001",
    "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
]
I32 = (-(2**31), -1, 0, 2**31 - 1)
U32 = (0, 1, 2**32 - 1)
U64 = (0, 1, 2**64 - 1)


def _value(sol_type: str, rng: random.Random, edge: int | None) -> Any:
    """An edge value (edge = index) or a random value of the ABI type."""
    pools: dict[str, tuple[Any, ...]] = {"int32": I32, "uint32": U32, "uint64": U64}
    if sol_type == "address":
        return ADDRS[edge % len(ADDRS)] if edge is not None else rng.choice(ADDRS)
    if sol_type == "bytes32":
        return bytes([edge or 0]) * 32 if edge is not None else rng.randbytes(32)
    if sol_type == "uint256":
        return (0, 1, 2**256 - 1)[edge % 3] if edge is not None else rng.getrandbits(256)
    pool = pools[sol_type]
    if edge is not None:
        return pool[edge % len(pool)]
    lo, hi = min(pool), max(pool)
    return rng.randint(lo, hi)


def _messages(primary: str) -> list[dict[str, Any]]:
    rng = random.Random(f"eip712-{primary}")  # reproducible
    fields = typed_data.TYPES[primary]
    edges = [{n: _value(t, rng, e) for n, t in fields} for e in range(4)]
    return edges + [{n: _value(t, rng, None) for n, t in fields} for _ in range(4)]


def _core(primary: str, values: dict[str, Any]) -> eip712.Struct:
    # By type hash: escrow v2's TermsV2 / DeliveryAttestationV2 share v1's type names.
    cls = next(c for c in eip712.MESSAGE_TYPES if typed_data.typehash(primary) == c.TYPE_HASH)
    return cls.from_json(
        {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
    )


def test_typehashes_match_formats_md(env: ChainEnv) -> None:
    anchor, escrow = env.anchor_v1, env.escrow
    assert anchor.reading_typehash() == typed_data.typehash("Reading") == eip712.Reading.TYPE_HASH
    assert anchor.commissioning_typehash() == typed_data.typehash("Commissioning")
    assert anchor.device_registration_typehash() == typed_data.typehash("DeviceRegistration")
    assert escrow.terms_typehash() == typed_data.typehash("Terms") == eip712.Terms.TYPE_HASH
    assert escrow.attestation_typehash() == typed_data.typehash("DeliveryAttestation")
    assert anchor.leaf_v1() == LEAF_V1 == keccak(text="chaintrace.leaf.v1")


def test_domains(env: ChainEnv) -> None:
    for client, name in (
        (env.anchor_v1, "chaintrace TraceAnchor"),
        (env.escrow, "chaintrace ShipmentEscrow"),
    ):
        assert client.eip712_domain() == {
            "name": name,
            "version": "1",
            "chainId": env.w3.eth.chain_id,
            "verifyingContract": client.address,
        }
        assert client.domain().to_json() == client.eip712_domain()


@pytest.mark.parametrize("values", _messages("Reading"))
def test_reading(env: ChainEnv, anchor_domain: dict[str, Any], values: dict[str, Any]) -> None:
    reading = _core("Reading", values)
    assert isinstance(reading, eip712.Reading)
    expected = typed_data.digest("Reading", anchor_domain, values)
    assert env.anchor_v1.reading_digest(reading) == expected
    assert env.anchor_v1.reading_digest(values) == expected  # a mapping by field name works too
    assert eip712.digest(reading, env.anchor_v1.domain()) == expected
    assert eip712.reading_digest(reading, env.anchor_v1.domain()) == expected
    assert env.anchor_v1.hash_reading(reading) == typed_data.struct_hash("Reading", values)


@pytest.mark.parametrize("values", _messages("Commissioning"))
def test_commissioning(
    env: ChainEnv, anchor_domain: dict[str, Any], values: dict[str, Any]
) -> None:
    expected = typed_data.digest("Commissioning", anchor_domain, values)
    got = env.anchor_v1.commissioning_digest(values["brand"], values["root"], values["leafCount"])
    assert got == expected
    assert eip712.digest(_core("Commissioning", values), env.anchor_v1.domain()) == expected


@pytest.mark.parametrize("values", _messages("DeviceRegistration"))
def test_device_registration(
    env: ChainEnv, anchor_domain: dict[str, Any], values: dict[str, Any]
) -> None:
    expected = typed_data.digest("DeviceRegistration", anchor_domain, values)
    got = env.anchor_v1.device_registration_digest(values["device"], values["operator"])
    assert got == expected
    assert eip712.digest(_core("DeviceRegistration", values), env.anchor_v1.domain()) == expected


@pytest.mark.parametrize("values", _messages("Terms"))
def test_terms(env: ChainEnv, escrow_domain: dict[str, Any], values: dict[str, Any]) -> None:
    terms = _core("Terms", values)
    assert isinstance(terms, eip712.Terms)
    expected = typed_data.digest("Terms", escrow_domain, values)
    assert env.escrow.terms_digest(terms) == expected
    assert eip712.digest(terms, env.escrow.domain()) == expected
    struct = typed_data.struct_hash("Terms", values)
    assert env.escrow.hash_terms(terms) == struct == eip712.terms_hash(terms)


@pytest.mark.parametrize("values", _messages("DeliveryAttestation"))
def test_attestation(env: ChainEnv, escrow_domain: dict[str, Any], values: dict[str, Any]) -> None:
    attestation = _core("DeliveryAttestation", values)
    expected = typed_data.digest("DeliveryAttestation", escrow_domain, values)
    assert env.escrow.attestation_digest(attestation) == expected
    assert eip712.digest(attestation, env.escrow.domain()) == expected


@pytest.mark.parametrize("kind", [0, 1])
def test_leaf_hash(env: ChainEnv, kind: int) -> None:
    for _ in range(4):
        event_hash, salt = os.urandom(32), os.urandom(32)
        assert env.anchor_v1.leaf_hash(kind, event_hash, salt) == leaf_hash(kind, event_hash, salt)


def test_trace_anchor_v2_domain_digests_and_every_leaf_kind(env: ChainEnv) -> None:
    """v2 signs v1's types under domain version "2" (a v1 signature does not carry over) and
    builds every leaf kind as core does."""
    v1, v2 = env.anchor_v1, env.anchor
    assert isinstance(v2, TraceAnchorV2Client)
    assert v2.eip712_domain() == {
        "name": "chaintrace TraceAnchor",
        "version": "2",
        "chainId": env.w3.eth.chain_id,
        "verifyingContract": v2.address,
    }
    assert v2.domain().to_json() == v2.eip712_domain()
    for values in _messages("Commissioning"):
        message = _core("Commissioning", values)
        got = v2.commissioning_digest(values["brand"], values["root"], values["leafCount"])
        assert got == eip712.digest(message, v2.domain()) != eip712.digest(message, v1.domain())
    for values in _messages("Reading"):
        reading = _core("Reading", values)
        assert v2.reading_digest(reading) == eip712.digest(reading, v2.domain())
    for kind in (0, 1, 3):
        event_hash, salt = os.urandom(32), os.urandom(32)
        assert v2.leaf_hash(kind, event_hash, salt) == leaf_hash(kind, event_hash, salt)
    for event_kind in (0, 1):
        projection, salt = os.urandom(32), os.urandom(32)
        expected = member_leaf_hash(event_kind, projection, salt)
        assert v2.member_leaf_hash(event_kind, projection, salt) == expected
    assert v1.leaf_hash(0, b"\1" * 32, b"\2" * 32) == v2.leaf_hash(0, b"\1" * 32, b"\2" * 32)
