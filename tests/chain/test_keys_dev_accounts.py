"""The public test mnemonic's first 100 accounts are refused outside dev mode."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.dev_accounts import DEV_ACCOUNT_COUNT, DEV_ACCOUNTS, TEST_MNEMONIC
from chain.keys import KeyConfigError, load_account


def _derived_keys() -> list[str]:
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(TEST_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex()
        for i in range(DEV_ACCOUNT_COUNT)
    ]


@pytest.fixture(scope="module")
def derived_keys() -> list[str]:
    """The private keys of the mnemonic's first 100 accounts, derived here (not copied)."""
    return _derived_keys()


def test_the_constant_is_exactly_the_mnemonics_first_100_accounts(derived_keys: list[str]) -> None:
    derived = {Account.from_key(key).address.lower() for key in derived_keys}
    assert len(derived) == DEV_ACCOUNT_COUNT == 100
    assert derived == DEV_ACCOUNTS


@pytest.mark.parametrize("index", [0, 9, 10, 11, 50, 99])
def test_each_is_refused_outside_dev_mode_and_accepted_in_it(
    derived_keys: list[str], index: int
) -> None:
    key = derived_keys[index]
    # Account 11 was accepted as the oracle key when only the first 10 were listed.
    with pytest.raises(KeyConfigError, match="public anvil/Hardhat test account"):
        load_account(private_key=key, what="oracle key")
    assert (
        load_account(private_key=key, allow_dev_keys=True).address == Account.from_key(key).address
    )


def test_account_100_is_not_a_listed_one() -> None:
    Account.enable_unaudited_hdwallet_features()
    beyond = Account.from_mnemonic(TEST_MNEMONIC, account_path="m/44'/60'/0'/0/100")
    assert beyond.address.lower() not in DEV_ACCOUNTS
