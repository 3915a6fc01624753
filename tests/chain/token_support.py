"""Helpers shared by several test modules (a module named test_* holds only tests)."""

from __future__ import annotations

import dataclasses

import pytest
import solcx
from eth_abi.abi import encode as abi_encode
from web3.contract import Contract

from chain.toolchain.artifacts import ContractArtifact, artifacts_from_output
from chain.toolchain.compile import collect_sources, load_config, resolve_solc
from chain.transactions import sender_for
from tests.utils.anvil import ChainEnv

TOKENS_SRC = "tests/contracts/utils/tokens"


FEE_BPS = 250  # 2.5 % burnt on every transfer


@pytest.fixture(scope="module")
def token_artifacts() -> dict[str, ContractArtifact]:
    """The Foundry tests' ERC-20s (plain and fee-on-transfer), compiled with the project's solc."""
    config = dataclasses.replace(load_config(), src=TOKENS_SRC)
    std_input = {
        "language": "Solidity",
        "sources": {k: {"content": v} for k, v in collect_sources(config).items()},
        "settings": {
            "evmVersion": config.evm_version,
            "remappings": list(config.remappings),
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    output = solcx.compile_standard(std_input, solc_binary=resolve_solc(config))
    return artifacts_from_output(output, TOKENS_SRC)


def _deploy(
    env: ChainEnv, artifact: ContractArtifact, types: list[str], args: list[object]
) -> Contract:
    receipt = sender_for(env.w3, env.deployer).send(
        None, artifact.bytecode + abi_encode(types, args)
    )
    return env.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
