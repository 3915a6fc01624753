"""TraceAnchorClient.revoke_brand on anvil: no new commissioning roots, old ones stay verifiable
and report when their brand was revoked."""

from __future__ import annotations

import os

import pytest

from chain import solidity_errors as se
from core import eip712
from core.merkle import leaf_hash
from tests.utils.anvil import ChainEnv, latest_timestamp

PREFIX = "4012345"


def _commission(env: ChainEnv, brand: str, key: bytes) -> tuple[bytes, tuple[int, bytes, bytes]]:
    event = (0, os.urandom(32), os.urandom(32))
    root = leaf_hash(*event)  # a one-leaf tree: the root is the leaf
    msg = eip712.Commissioning(brand=brand, root=root, leaf_count=1)
    signature = eip712.sign(msg, env.anchor.domain(), key)
    env.anchor.send_anchor_commissioning(env.stranger, root, 1, brand, signature)
    return root, event


def test_revoked_brand_keeps_old_roots_and_commissions_no_more(env: ChainEnv) -> None:
    anchor = env.anchor
    anchor.send_register_brand(env.admin, env.brand.address, PREFIX)
    root, event = _commission(env, env.brand.address, env.brand.key)
    assert anchor.root_info(root).brand_revoked_at == 0 and not anchor.root_info(root).brand_revoked

    with pytest.raises(se.AccessControlUnauthorizedAccount):
        anchor.send_revoke_brand(env.brand, env.brand.address)
    with pytest.raises(se.AnchorUnknownBrand):
        anchor.send_revoke_brand(env.admin, env.stranger.address)
    anchor.send_revoke_brand(env.admin, env.brand.address)
    revoked_at = latest_timestamp(env.w3)
    assert anchor.brand_revoked_at(env.brand.address) == revoked_at
    with pytest.raises(se.AnchorBrandRevoked) as twice:
        anchor.send_revoke_brand(env.admin, env.brand.address)
    assert twice.value.args_dict == {"brand": env.brand.address, "revokedAt": revoked_at}

    info = anchor.root_info(root)
    assert info.brand == env.brand.address and info.brand_revoked_at == revoked_at
    assert info.brand_revoked and info.anchored
    assert anchor.verify(*event, [])
    with pytest.raises(se.AnchorBrandRevoked):
        _commission(env, env.brand.address, env.brand.key)

    # The prefix can move to a new key of the same company; the old roots keep their flag.
    anchor.send_register_brand(env.admin, env.stranger.address, PREFIX)
    assert anchor.brand_of(PREFIX) == env.stranger.address
    new_root, _ = _commission(env, env.stranger.address, env.stranger.key)
    assert anchor.root_info(new_root).brand_revoked_at == 0
    assert anchor.root_info(root).brand_revoked_at == revoked_at


def test_build_revoke_brand_is_unsigned_for_the_admin_wallet(env: ChainEnv) -> None:
    with pytest.raises(se.AnchorUnknownBrand):  # building estimates gas: the revert shows early
        env.anchor.build_revoke_brand(env.admin.address, env.brand.address)
    env.anchor.send_register_brand(env.admin, env.brand.address, PREFIX)
    tx = env.anchor.build_revoke_brand(env.admin.address, env.brand.address)
    assert tx["from"] == env.admin.address and tx["to"] == env.anchor.address
    assert bytes.fromhex(str(tx["data"])[2:10]) == env.w3.keccak(text="revokeBrand(address)")[:4]
