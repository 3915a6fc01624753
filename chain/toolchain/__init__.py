"""Building and running the contracts: compile (foundry.toml's settings), artifacts, deploy,
anvil and child processes, and the generator of chain/solidity_errors.py."""
