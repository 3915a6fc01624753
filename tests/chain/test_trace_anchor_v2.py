"""TraceAnchor v2 through its typed client on anvil: prefixes, standing, re-signing, proofs."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

import chain.solidity_errors as se
from chain.clients import TraceAnchorV2Client
from core.eip712 import Commissioning, sign
from core.gs1 import check_digit
from core.merkle import MerkleTree, leaf_hash
from tests.utils.anvil import ChainEnv


def _v2(env: ChainEnv) -> TraceAnchorV2Client:
    anchor = env.anchor
    assert isinstance(anchor, TraceAnchorV2Client)
    return anchor


def _gtin(prefix: str) -> str:
    body = "0" + (prefix + "0" * 12)[:12]
    return body + check_digit(body)


@pytest.mark.parametrize(("first", "second"), [("0614141", "06141410"), ("06141410", "0614141")])
def test_nested_prefixes_are_refused_on_chain_either_way(
    env: ChainEnv, first: str, second: str
) -> None:
    anchor = _v2(env)
    anchor.send_register_brand(env.admin, env.brand.address, first)
    with pytest.raises(se.AnchorPrefixNested):
        anchor.send_register_brand(env.admin, env.stranger.address, second)
    # Also once the first brand is revoked: its prefix stays registered (its roots are its own).
    anchor.send_revoke_brand(env.admin, env.brand.address)
    with pytest.raises(se.AnchorPrefixNested):
        anchor.send_register_brand(env.admin, env.stranger.address, second)
    assert anchor.brand_of_gtin(_gtin(first)) == env.brand.address  # until the prefix moves
    assert anchor.brand_of_gtin(_gtin("0799999")) is None


def test_the_registrar_role_onboards_and_nobody_else(env: ChainEnv) -> None:
    anchor = _v2(env)
    assert anchor.has_role(anchor.registrar_role(), env.admin.address)
    with pytest.raises(se.AccessControlUnauthorizedAccount):
        anchor.send_register_brand(env.stranger, env.stranger.address, "0614141")


def test_compromise_and_resigning_decide_brand_confirmed(env: ChainEnv) -> None:
    anchor = _v2(env)
    anchor.send_register_brand(env.admin, env.brand.address, "0614141")
    leaves = [(0, os.urandom(32), os.urandom(32)) for _ in range(3)]
    tree = MerkleTree.build([leaf_hash(*leaf) for leaf in leaves])
    message = Commissioning(brand=env.brand.address, root=tree.root, leaf_count=3)
    anchored = anchor.send_anchor_commissioning(
        env.anchorer, tree.root, 3, env.brand.address, sign(message, anchor.domain(), env.brand.key)
    )
    proof = tree.proof(leaf_hash(*leaves[2]))
    gtin = _gtin("0614141")
    assert anchor.root_info(tree.root).brand_confirmed is True
    assert anchor.verify_brand_confirmed(gtin, 0, leaves[2][1], leaves[2][2], proof)
    assert not anchor.verify_brand_confirmed(_gtin("0799999"), 0, leaves[2][1], leaves[2][2], proof)

    since = int(env.w3.eth.get_block(anchored.block_number)["timestamp"])
    anchor.send_mark_compromised(env.admin, env.brand.address, since)
    with pytest.raises(se.AnchorInvalidCompromiseTime):  # only ever moved earlier
        anchor.send_mark_compromised(env.admin, env.brand.address, since)
    info = anchor.root_info(tree.root)
    assert (info.brand_confirmed, info.brand_compromised_since) == (False, since)
    assert not anchor.verify_brand_confirmed(gtin, 0, leaves[2][1], leaves[2][2], proof)
    assert anchor.verify(0, leaves[2][1], leaves[2][2], proof)  # inclusion alone still holds

    new_key = Account.create()
    with pytest.raises(se.AnchorPrefixRegistered):  # the old key still holds the prefix
        anchor.send_register_brand(env.admin, new_key.address, "0614141")
    anchor.send_revoke_brand(env.admin, env.brand.address)
    anchor.send_register_brand(env.admin, new_key.address, "0614141")
    resign = Commissioning(brand=new_key.address, root=tree.root, leaf_count=3)
    signature = sign(resign, anchor.domain(), new_key.key)
    anchor.send_endorse_root(env.stranger, tree.root, new_key.address, signature)
    info = anchor.root_info(tree.root)
    assert info.endorsed_by == new_key.address and info.brand_confirmed is True
    assert anchor.verify_brand_confirmed(gtin, 0, leaves[2][1], leaves[2][2], proof)
    with pytest.raises(se.AnchorRootEndorsed):
        anchor.send_endorse_root(env.stranger, tree.root, new_key.address, signature)
