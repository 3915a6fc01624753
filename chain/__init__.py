"""Everything that talks to the EVM: compile, deploy, typed clients, anvil, errors."""
