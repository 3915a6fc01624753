"""Helpers shared by several test modules (a module named test_* holds only tests)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount

from core import eip712
from tests.utils.anvil import ChainEnv, latest_timestamp

MakeTerms = Callable[..., dict[str, Any]]


def _terms(values: dict[str, Any]) -> eip712.Terms:
    return eip712.Terms.from_json(
        {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
    )


def _signed_terms(env: ChainEnv, values: dict[str, Any]) -> tuple[eip712.Terms, bytes, bytes]:
    terms = _terms(values)
    domain = env.escrow.domain()
    return (
        terms,
        eip712.sign(terms, domain, env.buyer.key),
        eip712.sign(terms, domain, env.payee.key),
    )


def _attestation(
    env: ChainEnv, terms: eip712.Terms, minutes: int, signer: LocalAccount | None = None, **kw: Any
) -> tuple[eip712.DeliveryAttestation, bytes]:
    fields: dict[str, Any] = {
        "shipment_id": terms.shipment_id,
        "terms_hash": eip712.terms_hash(terms),
        "evidence_root": os.urandom(32),
        "excursion_minutes": minutes,
        "delivered_at": latest_timestamp(env.w3),
    }
    fields.update(kw)
    att = eip712.DeliveryAttestation(**fields)
    return att, eip712.sign(att, env.escrow.domain(), (signer or env.oracle).key)
