"""CHAIN_NAME, EXPLORER_URL and PUBLIC_RPC_URL: named chains, explorer links, checked URLs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.chain_public import chain_name, tx_url
from api.settings import ApiSettings


def test_chain_names_from_the_chain_id_unless_configured() -> None:
    assert chain_name(1, None) == "Ethereum"
    assert chain_name(11155111, None) == "Sepolia (Ethereum test network)"
    assert chain_name(31337, None) == "Anvil (a local test chain)"
    assert chain_name(424242, None) == "chain 424242"
    assert chain_name(1, "Mainnet") == "Mainnet"
    assert chain_name(None, None) is None


def test_an_explorer_link_is_base_tx_hash() -> None:
    assert tx_url("https://etherscan.io", "0xab") == "https://etherscan.io/tx/0xab"
    assert tx_url(None, "0xab") is None and tx_url("https://etherscan.io", None) is None


def test_urls_are_https_or_loopback_and_carry_no_secret() -> None:
    ok = ApiSettings(
        chaintrace_dev=True,
        explorer_url="https://sepolia.etherscan.io/",
        public_rpc_url="https://rpc.example.org/v3/key?x=1",
    )
    assert ok.explorer_url == "https://sepolia.etherscan.io"
    assert ApiSettings(chaintrace_dev=True, public_rpc_url="http://[::1]:8545").public_rpc_url
    assert ApiSettings(chaintrace_dev=True, explorer_url="").explorer_url is None


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("public_rpc_url", "http://rpc.example.org", "https (http only on a loopback address)"),
        ("explorer_url", "http://10.0.0.1", "https (http only on a loopback address)"),
        ("explorer_url", "javascript:alert(1)", "must be an https URL"),
        ("public_rpc_url", "https://user:pw@rpc.example.org", "must not carry credentials"),
        ("explorer_url", "https://etherscan.io?a=1", "must not carry a query or fragment"),
        ("public_rpc_url", "https://rpc.example.org#x", "must not carry a fragment"),
        ("chain_name", "Eth\nereum", "printable"),
    ],
)
def test_bad_values_are_refused_by_name(field: str, value: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ApiSettings.model_validate({"chaintrace_dev": True, field: value})
    assert says in str(caught.value)
    assert field.upper() in str(caught.value) or field == "chain_name"
