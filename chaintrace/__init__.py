"""chaintrace: the CLI and process wiring (the composition root; the only package importing all others)."""
