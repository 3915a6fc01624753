"""The HTTP API: partners' writes (API keys, role- and object-checked) and the public resolver."""
