"""EIP-712 types against docs/formats.md and against eth-account's independent encoder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.abi_values import int_bounds
from core.eip712 import (
    ANCHOR_DOMAIN_NAME,
    ESCROW_DOMAIN_NAME,
    MESSAGE_TYPES,
    Commissioning,
    DeliveryAttestation,
    DeviceRegistration,
    Domain,
    Reading,
    Struct,
    Terms,
    anchor_domain,
    digest,
    domain_separator,
    escrow_domain,
    reading_digest,
    recover,
    recover_digest,
    sign,
    signature_from_hex,
    struct_hash,
    terms_hash,
    typed_data,
)
from core.errors import Eip712Error
from core.signature import SECP256K1_N

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _address() -> st.SearchStrategy[str]:
    return st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))


def _value(sol_type: str) -> st.SearchStrategy[Any]:
    if sol_type == "address":
        return _address()
    if sol_type == "bytes32":
        return st.binary(min_size=32, max_size=32)
    lo, hi = int_bounds(sol_type)
    return st.integers(lo, hi) | st.sampled_from([lo, hi, 0])


def _message(cls: type[Struct]) -> st.SearchStrategy[Struct]:
    kwargs = st.fixed_dictionaries({f.attr: _value(f.sol_type) for f in cls.FIELDS})
    return kwargs.map(lambda kw: cls(**kw))


messages = st.one_of(*(_message(cls) for cls in MESSAGE_TYPES))
domains = st.builds(
    Domain,
    st.sampled_from([ANCHOR_DOMAIN_NAME, ESCROW_DOMAIN_NAME, "other ✓"]),
    st.sampled_from(["1", "2"]),
    st.integers(1, 2**256 - 1),
    _address(),
)
keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


def reading(**overrides: Any) -> Reading:
    fields: dict[str, Any] = {
        "device": ADDR,
        "seq": 7,
        "taken_at_ms": 1_700_000_000_123,
        "temperature_centi_c": -1850,
        "humidity_centi_pct": 4_512,
        "shock_milli_g": 30,
        "lat_e7": 524_000_000,
        "lon_e7": -13_000_000,
    }
    fields.update(overrides)
    return Reading(**fields)


def test_type_strings_are_exactly_those_of_formats_md() -> None:
    text = FORMATS.read_text()
    blocks = re.findall(r"```\n(.*?)```", text, flags=re.S)
    documented = {
        line for block in blocks for line in block.splitlines() if re.match(r"\w+\(", line)
    }
    documented = {line for line in documented if not line.startswith(("leaf", "LEAF"))}
    assert {cls.TYPE_STRING for cls in MESSAGE_TYPES} == documented
    assert f'`name = "{ANCHOR_DOMAIN_NAME}"`' in text
    assert f'`name = "{ESCROW_DOMAIN_NAME}"`' in text
    assert anchor_domain(1, ADDR).name == ANCHOR_DOMAIN_NAME
    assert escrow_domain(1, ADDR).name == ESCROW_DOMAIN_NAME
    assert anchor_domain(1, ADDR).version == escrow_domain(1, ADDR).version == "1"


@settings(max_examples=300)
@given(messages, domains)
def test_hashes_equal_eth_account(msg: Struct, domain: Domain) -> None:
    full = json.loads(json.dumps(typed_data(msg, domain)))  # what a wallet receives
    signable = encode_typed_data(full_message=full)
    assert domain_separator(domain) == signable.header
    assert struct_hash(msg) == signable.body
    assert digest(msg, domain) == _hash_eip191_message(signable)
    if isinstance(msg, Reading):
        assert reading_digest(msg, domain) == digest(msg, domain)
    if isinstance(msg, Terms):
        assert terms_hash(msg) == signable.body


@settings(max_examples=200)
@given(_message(Reading), domains)
@example(reading(), anchor_domain(31337, ADDR))
@example(
    reading(seq=2**64 - 1, temperature_centi_c=-(2**31), lat_e7=2**31 - 1, shock_milli_g=2**32 - 1),
    anchor_domain(1, ADDR),
)
def test_reading_fast_path_equals_eth_account(msg: Reading, domain: Domain) -> None:
    signable = encode_typed_data(full_message=typed_data(msg, domain))
    assert reading_digest(msg, domain) == _hash_eip191_message(signable)


@settings(max_examples=25, deadline=None)
@given(messages, domains, keys)
def test_sign_and_recover(msg: Struct, domain: Domain, key: bytes) -> None:
    signer = Account.from_key(key).address
    signature = sign(msg, domain, key)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert recover(msg, domain, signature) == signer
    signable = encode_typed_data(full_message=typed_data(msg, domain))
    assert Account.recover_message(signable, signature=signature) == signer
    # Fast path: digest + coincurve agrees with eth-account's hash signing.
    by_hash = Account.unsafe_sign_hash(digest(msg, domain), key).signature
    assert recover_digest(digest(msg, domain), bytes(by_hash)) == signer
    other = escrow_domain(domain.chain_id, domain.verifying_contract)
    if other != domain:
        assert recover(msg, other, signature) != signer


def test_changed_field_changes_signer() -> None:
    key = b"\x01" * 32
    domain = anchor_domain(31337, ADDR)
    signature = sign(reading(), domain, key)
    assert recover(reading(), domain, signature) == Account.from_key(key).address
    assert (
        recover(reading(temperature_centi_c=-1849), domain, signature)
        != Account.from_key(key).address
    )


def test_recover_rejects_malleable_and_malformed_signatures() -> None:
    domain = anchor_domain(1, ADDR)
    key = b"\x02" * 32
    sig = sign(reading(), domain, key)
    d = reading_digest(reading(), domain)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - v,))
    with pytest.raises(Eip712Error, match="lower half"):
        recover_digest(d, high_s)
    with pytest.raises(Eip712Error, match="v must be 27 or 28"):
        recover_digest(d, sig[:64] + bytes((v - 27,)))
    with pytest.raises(Eip712Error, match="65 bytes"):
        recover_digest(d, sig[:64])
    with pytest.raises(Eip712Error, match="out of range"):
        recover_digest(d, bytes(32) + sig[32:])
    with pytest.raises(Eip712Error, match="digest must be 32 bytes"):
        recover_digest(d[:31], sig)
    # An r that is not the x of a curve point recovers nothing.
    with pytest.raises(Eip712Error, match="does not recover"):
        recover_digest(d, (5).to_bytes(32, "big") + sig[32:])


def test_signature_from_hex() -> None:
    sig = sign(reading(), anchor_domain(1, ADDR), b"\x03" * 32)
    assert signature_from_hex("0x" + sig.hex()) == sig
    for bad in [sig.hex(), "0x" + sig.hex()[:-2], "0x" + "zz" * 65, None]:
        with pytest.raises(Eip712Error, match="130 hex digits"):
            signature_from_hex(bad)  # type: ignore[arg-type]


def test_reading_from_json_round_trip() -> None:
    payload = reading().to_json()
    assert payload["takenAtMs"] == 1_700_000_000_123 and payload["device"] == ADDR
    assert Reading.from_json(json.loads(json.dumps(payload))) == reading()
    assert Reading.from_json({**payload, "device": ADDR.lower()}).device == ADDR


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seq", 1.0, r"Reading.seq must be an integer \(uint64\), got float"),
        ("seq", True, "got bool"),
        ("seq", "7", "got str"),
        ("seq", None, "got NoneType"),
        ("seq", -1, r"must be uint64 \(0..18446744073709551615\), got -1"),
        ("seq", 2**64, "got 18446744073709551616"),
        ("temperatureCentiC", 2**31, "must be int32"),
        ("temperatureCentiC", -(2**31) - 1, "must be int32"),
        ("humidityCentiPct", -1, "must be uint32"),
        ("lonE7", 12.5, "got float"),
        ("device", "0x123", "20-byte hex address"),
        ("device", ADDR[2:], "20-byte hex address"),
        ("device", ADDR[:-1] + "A", "invalid EIP-55 checksum"),
        ("device", 5, "20-byte hex address"),
    ],
)
def test_reading_from_json_is_strict(field: str, value: Any, message: str) -> None:
    payload = {**reading().to_json(), field: value}
    with pytest.raises(Eip712Error, match=message):
        Reading.from_json(payload)


def test_from_json_rejects_missing_unknown_and_non_objects() -> None:
    payload = reading().to_json()
    with pytest.raises(Eip712Error, match=r"missing fields \['seq'\], unknown fields \[\]"):
        Reading.from_json({k: v for k, v in payload.items() if k != "seq"})
    with pytest.raises(Eip712Error, match=r"unknown fields \['signature'\]"):
        Reading.from_json({**payload, "signature": "0x"})
    with pytest.raises(Eip712Error, match="must be a JSON object"):
        Reading.from_json([1, 2])  # type: ignore[arg-type]


def test_bytes32_fields_in_json() -> None:
    msg = Commissioning(brand=ADDR, root=b"\xab" * 32, leaf_count=3)
    assert msg.to_json()["root"] == "0x" + "ab" * 32
    assert Commissioning.from_json(msg.to_json()) == msg
    for bad in ["0x" + "ab" * 31, "ab" * 32, b"\xab" * 32, 5]:
        with pytest.raises(Eip712Error, match="32-byte hex string"):
            Commissioning.from_json({**msg.to_json(), "root": bad})
    with pytest.raises(Eip712Error, match="must be 32 bytes"):
        Commissioning(brand=ADDR, root=b"\xab" * 31, leaf_count=3)


def test_all_types_build_and_validate() -> None:
    zero = "0x" + "00" * 20
    terms = Terms(
        shipment_id=b"\x01" * 32,
        buyer=ADDR,
        payee=ADDR,
        token=zero,
        amount=10**18,
        min_temp_centi_c=200,
        max_temp_centi_c=800,
        grace_minutes=15,
        penalty_bps_per_minute=10,
        penalty_cap_bps=5_000,
        max_gap_minutes=30,
        deadline=1_700_000_000,
        refund_grace=86_400,
        dispute_window=3_600,
        arbiter=ADDR,
        dispute_timeout=7 * 86_400,
    )
    assert terms.token == zero
    attestation = DeliveryAttestation(
        shipment_id=terms.shipment_id,
        terms_hash=terms_hash(terms),
        evidence_root=b"\x02" * 32,
        excursion_minutes=12,
        delivered_at=1_700_000_100,
    )
    assert attestation.terms_hash == keccak(Terms.TYPE_HASH + b"".join(_words(terms)))
    assert DeviceRegistration(device=ADDR, operator=zero).operator == zero
    with pytest.raises(Eip712Error, match=r"Terms\.amount must be uint256"):
        Terms(**{**terms.__dict__, "amount": 2**256})
    with pytest.raises(Eip712Error, match=r"DeliveryAttestation\.excursionMinutes must be uint32"):
        DeliveryAttestation(**{**attestation.__dict__, "excursion_minutes": 2**32})
    with pytest.raises(Eip712Error, match="terms_hash needs Terms"):
        terms_hash(attestation)  # type: ignore[arg-type]
    with pytest.raises(Eip712Error, match="not a chaintrace EIP-712 message"):
        struct_hash("Terms")  # type: ignore[arg-type]


def _words(msg: Struct) -> list[bytes]:
    out = []
    for f, v in zip(msg.FIELDS, msg.values(), strict=True):
        if f.sol_type == "address":
            out.append(bytes(12) + bytes.fromhex(v[2:]))
        elif f.sol_type == "bytes32":
            out.append(v)
        else:
            out.append(v.to_bytes(32, "big", signed=f.sol_type.startswith("int")))
    return out


def test_domain_validation() -> None:
    assert anchor_domain(1, ADDR.lower()).verifying_contract == ADDR
    for chain_id, message in [
        (0, "positive"),
        (True, "integer"),
        (-1, "uint256"),
        (2**256, "uint256"),
    ]:
        with pytest.raises(Eip712Error, match=message):
            anchor_domain(chain_id, ADDR)
    with pytest.raises(Eip712Error, match="verifyingContract"):
        escrow_domain(1, "0x00")
    with pytest.raises(Eip712Error, match="not an EIP-712 Domain"):
        digest(reading(), {"chainId": 1})  # type: ignore[arg-type]
    with pytest.raises(Eip712Error, match="needs a Reading and a Domain"):
        reading_digest(reading(), None)  # type: ignore[arg-type]
