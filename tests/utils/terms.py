"""The SLA terms tests fund: one set of defaults, as Terms or as the ABI's camelCase dict."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic.alias_generators import to_camel

from core.eip712 import Terms
from tests.utils.anvil import ChainEnv, latest_timestamp

ETH = 10**18


def terms_values(env: ChainEnv) -> dict[str, Any]:
    """Escrow v1 terms between env.buyer and env.payee, arbiter env.stranger: 3 ETH, 2-8 degC,
    deadline one day ahead (snake_case, Terms' field names)."""
    return {
        "shipment_id": secrets.token_bytes(32),
        "buyer": env.buyer.address,
        "payee": env.payee.address,
        "token": "0x" + "00" * 20,
        "amount": 3 * ETH,
        "min_temp_centi_c": 200,
        "max_temp_centi_c": 800,
        "grace_minutes": 15,
        "penalty_bps_per_minute": 25,
        "penalty_cap_bps": 5000,
        "max_gap_minutes": 30,
        "deadline": latest_timestamp(env.w3) + 86_400,
        "refund_grace": 3_600,
        "dispute_window": 7_200,
        "arbiter": env.stranger.address,
        "dispute_timeout": 86_400,
    }


def make_terms(env: ChainEnv, **overrides: Any) -> Terms:
    """The default terms as Terms; `overrides` by Terms' field names."""
    return Terms(**{**terms_values(env), **overrides})


def terms_abi(env: ChainEnv, **overrides: Any) -> dict[str, Any]:
    """The default terms as the contract's struct fields (camelCase); `overrides` by those names,
    unchecked (a test may pass what the contract must refuse)."""
    return {**{to_camel(k): v for k, v in terms_values(env).items()}, **overrides}
