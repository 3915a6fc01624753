"""chaintrace core: pure domain logic (no I/O): Merkle, GS1, EIP-712, SLA, EPCIS."""
