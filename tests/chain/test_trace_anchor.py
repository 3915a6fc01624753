"""TraceAnchorClient against the deployed contract: brands, anchoring, proofs, named reverts."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

from chain import solidity_errors as se
from chain.clients import RootInfo, TraceAnchorClient
from chain.errors import ChainValueError
from core import eip712
from core.merkle import MerkleTree, leaf_hash
from tests.utils.anvil import ChainEnv, latest_timestamp

PREFIX = "4012345"


def _events(n: int) -> list[tuple[int, bytes, bytes]]:
    return [(i % 2, os.urandom(32), os.urandom(32)) for i in range(n)]


def test_register_brand(env: ChainEnv) -> None:
    anchor = env.anchor_v1
    assert anchor.brand_of(PREFIX) is None
    assert anchor.prefix_of(env.brand.address) is None
    anchor.send_register_brand(env.admin, env.brand.address, PREFIX)
    assert anchor.brand_of(PREFIX) == env.brand.address
    assert anchor.prefix_of(env.brand.address) == PREFIX
    with pytest.raises(se.AnchorPrefixRegistered) as info:
        anchor.send_register_brand(env.admin, env.stranger.address, PREFIX)
    assert info.value.args_dict == {"companyPrefix": PREFIX, "brand": env.brand.address}
    with pytest.raises(se.AnchorBrandRegistered):
        anchor.send_register_brand(env.admin, env.brand.address, "4099999")
    with pytest.raises(se.AnchorInvalidPrefix):
        anchor.send_register_brand(env.admin, env.stranger.address, "12ab56")
    with pytest.raises(se.AnchorInvalidBrand):
        anchor.send_register_brand(env.admin, "0x" + "00" * 20, "4098765")


def test_only_admin_registers_brands(env: ChainEnv) -> None:
    with pytest.raises(se.AccessControlUnauthorizedAccount) as info:
        env.anchor_v1.send_register_brand(env.anchorer, env.brand.address, PREFIX)
    assert info.value.args_dict == {
        "account": env.anchorer.address,
        "neededRole": env.anchor_v1.default_admin_role(),
    }


def test_anchor_and_root_info(env: ChainEnv) -> None:
    anchor = env.anchor_v1
    root = os.urandom(32)
    assert anchor.root_info(root) == RootInfo(0, 0, 0, None)
    assert not anchor.root_info(root).anchored
    result = anchor.send_anchor(env.anchorer, root, 17)
    info = anchor.root_info(root)
    block = env.w3.eth.get_block(result.block_number)
    assert info == RootInfo(int(block["timestamp"]), result.block_number, 17, None)
    assert info.anchored
    assert bytes(block["hash"]) == result.block_hash
    # The RootAnchored event names the root (indexed) and the leaf count.
    logs = anchor.contract.events.RootAnchored().process_receipt(
        env.w3.eth.get_transaction_receipt(result.tx_hash)
    )
    assert [(bytes(x.args.root), x.args.leafCount, x.args.brand) for x in logs] == [
        (root, 17, "0x" + "00" * 20)
    ]
    with pytest.raises(se.AnchorRootExists) as exists:
        anchor.send_anchor(env.anchorer, root, 17)
    assert exists.value.args_dict == {"root": root}


def test_anchor_reverts(env: ChainEnv) -> None:
    anchor = env.anchor_v1
    with pytest.raises(se.AccessControlUnauthorizedAccount) as info:
        anchor.send_anchor(env.stranger, os.urandom(32), 1)
    assert info.value.args_dict["neededRole"] == anchor.anchorer_role()
    with pytest.raises(se.AnchorZeroRoot):
        anchor.send_anchor(env.anchorer, bytes(32), 1)
    with pytest.raises(se.AnchorZeroLeafCount):
        anchor.send_anchor(env.anchorer, os.urandom(32), 0)
    with pytest.raises(ChainValueError):
        anchor.send_anchor(env.anchorer, b"short", 1)
    with pytest.raises(ChainValueError):
        anchor.send_anchor(env.anchorer, os.urandom(32), 2**32)


def test_build_anchor_is_a_signable_unsigned_tx(env: ChainEnv) -> None:
    root = os.urandom(32)
    tx = env.anchor_v1.build_anchor(env.anchorer.address, root, 3)
    assert tx["from"] == env.anchorer.address
    assert tx["to"] == env.anchor_v1.address
    assert tx["chainId"] == env.w3.eth.chain_id
    assert {"gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"} <= set(tx)
    signed = Account.sign_transaction(dict(tx), env.anchorer.key)
    receipt = env.w3.eth.wait_for_transaction_receipt(
        env.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    assert env.anchor_v1.root_info(root).leaf_count == 3
    # A wallet asking to build a reverting call learns why before signing anything.
    with pytest.raises(se.AnchorRootExists):
        env.anchor_v1.build_anchor(env.anchorer.address, root, 3)


def test_anchor_commissioning(env: ChainEnv) -> None:
    anchor = env.anchor_v1
    root = os.urandom(32)
    msg = eip712.Commissioning(brand=env.brand.address, root=root, leaf_count=5)
    signature = eip712.sign(msg, anchor.domain(), env.brand.key)
    with pytest.raises(se.AnchorUnknownBrand):
        anchor.send_anchor_commissioning(env.stranger, root, 5, env.brand.address, signature)
    anchor.send_register_brand(env.admin, env.brand.address, PREFIX)
    with pytest.raises(se.AnchorInvalidSignature):  # signed for another leaf count
        anchor.send_anchor_commissioning(env.stranger, root, 6, env.brand.address, signature)
    forged = eip712.sign(msg, anchor.domain(), env.stranger.key)
    with pytest.raises(se.AnchorInvalidSignature) as info:
        anchor.send_anchor_commissioning(env.stranger, root, 5, env.brand.address, forged)
    assert info.value.args_dict == {"brand": env.brand.address}
    # Anyone may relay the brand's signature.
    result = anchor.send_anchor_commissioning(env.stranger, root, 5, env.brand.address, signature)
    assert anchor.root_info(root) == RootInfo(
        latest_timestamp(env.w3), result.block_number, 5, env.brand.address
    )
    with pytest.raises(se.AnchorRootExists):
        anchor.send_anchor_commissioning(env.stranger, root, 5, env.brand.address, signature)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64])
def test_every_proof_verifies_on_chain(env: ChainEnv, size: int) -> None:
    anchor = env.anchor_v1
    events = _events(size)
    tree = MerkleTree.build([leaf_hash(*e) for e in events])
    assert not anchor.verify(*events[0], tree.proof_at(0))  # not anchored yet
    anchor.send_anchor(env.anchorer, tree.root, size)
    other = MerkleTree.build([leaf_hash(*e) for e in _events(2)])
    anchor.send_anchor(env.anchorer, other.root, 2)
    for i, (kind, event_hash, salt) in enumerate(events):
        proof = tree.proof_at(i)
        assert anchor.verify(kind, event_hash, salt, proof)
        assert anchor.verify_against(tree.root, kind, event_hash, salt, proof)
        assert not anchor.verify_against(other.root, kind, event_hash, salt, proof)
        assert not anchor.verify(kind, event_hash, os.urandom(32), proof)  # another salt
        assert not anchor.verify(1 - kind, event_hash, salt, proof)  # another kind
        assert not anchor.verify(kind, os.urandom(32), salt, proof)  # another event
        if proof:
            tampered = [*proof[:-1], bytes(b ^ 1 for b in proof[-1])]
            assert not anchor.verify(kind, event_hash, salt, tampered)
            assert not anchor.verify(kind, event_hash, salt, proof[:-1])


def test_inner_node_cannot_pass_as_leaf(env: ChainEnv) -> None:
    events = _events(4)
    tree = MerkleTree.build([leaf_hash(*e) for e in events])
    env.anchor_v1.send_anchor(env.anchorer, tree.root, 4)
    # The two children of the root are inner nodes; "proving" one as an event fails.
    inner_left, inner_right = tree.nodes[1], tree.nodes[2]
    assert not env.anchor_v1.verify(0, inner_left, bytes(32), [inner_right])


def test_invalid_kind_reverts(env: ChainEnv) -> None:
    with pytest.raises(se.AnchorInvalidKind) as info:
        env.anchor_v1.verify(2, os.urandom(32), os.urandom(32), [])
    assert info.value.args_dict == {"kind": 2}
    with pytest.raises(ChainValueError):
        env.anchor_v1.verify(256, os.urandom(32), os.urandom(32), [])


def test_historical_reads(env: ChainEnv) -> None:
    root = os.urandom(32)
    before = env.w3.eth.block_number
    env.anchor_v1.send_anchor(env.anchorer, root, 1)
    assert not env.anchor_v1.root_info(root, block=before).anchored
    assert env.anchor_v1.root_info(root).anchored


def test_bad_address_is_a_value_error(env: ChainEnv) -> None:
    with pytest.raises(ChainValueError):
        TraceAnchorClient(env.w3, "0x1234")
    with pytest.raises(ChainValueError):
        env.anchor_v1.prefix_of("not-an-address")
