"""chaintrace: the CLI and process wiring (the composition root)."""
