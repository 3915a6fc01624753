"""What the public is told of the chain: its name, explorer links and the RPC a browser may ask
(CHAIN_NAME, EXPLORER_URL, PUBLIC_RPC_URL; api/settings.py checks them with `public_url`)."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

# Names of well-known chains by chain id (CHAIN_NAME overrides).
CHAIN_NAMES: dict[int, str] = {
    1: "Ethereum",
    10: "OP Mainnet",
    100: "Gnosis",
    137: "Polygon",
    8453: "Base",
    17000: "Holesky (Ethereum test network)",
    42161: "Arbitrum One",
    560048: "Hoodi (Ethereum test network)",
    11155111: "Sepolia (Ethereum test network)",
    31337: "Anvil (a local test chain)",
}


def chain_name(chain_id: int | None, configured: str | None) -> str | None:
    """CHAIN_NAME, else the well-known name of `chain_id`, else "chain <id>" (None: no chain)."""
    if configured:
        return configured
    if chain_id is None:
        return None
    return CHAIN_NAMES.get(chain_id, f"chain {chain_id}")


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` is localhost or a loopback address."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(value: str, name: str, *, query: bool = False) -> str:
    """`value` without a trailing slash if it is an https URL (http only on loopback), with no
    credentials and no fragment (and no query unless allowed); else ValueError naming `name`."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an https URL such as https://example.com")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"{name} must be https (http only on a loopback address)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{name} must not carry credentials: it is shown to the public")
    if parts.fragment or (parts.query and not query):
        raise ValueError(f"{name} must not carry a {'fragment' if query else 'query or fragment'}")
    return value.rstrip("/")


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL checked by `public_url` (a CSP source)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def tx_url(explorer: str | None, tx_hash: str | None) -> str | None:
    """The explorer's page of a transaction: EXPLORER_URL + "/tx/" + hash (None: no explorer)."""
    if explorer is None or not tx_hash:
        return None
    return f"{explorer}/tx/{tx_hash}"
