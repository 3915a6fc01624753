"""A brand's standing on chain as the follower saw it, for the API's answers and refusals."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.errors import ApiError, Conflict
from api.schemas.brands import BrandOnChain
from api.state import ChainAccess
from chain.errors import ChainError
from store.brand_standing import BrandLedger, BrandStanding, Registry


def anchor_releases(chain: ChainAccess) -> dict[int, str]:
    """TraceAnchor address by release version of the deployment ({} without a chain)."""
    if not chain.configured:
        return {}
    try:
        deployment = chain.deployment()
    except (ApiError, ChainError):
        return {}
    return {r.version: r.address for r in deployment.releases if r.name == "TraceAnchor"}


def registries(chain: ChainAccess) -> tuple[Registry, ...]:
    """Whose brand registrations count: the newest TraceAnchor release's, and each earlier
    release's only before the newest was deployed (store/brand_standing.py). 503 without a
    usable deployment: "no brand is registered" is never assumed for want of one."""
    deployment = chain.deployment()
    anchors = sorted(
        (r for r in deployment.releases if r.name == "TraceAnchor"), key=lambda r: r.version
    )
    newest = anchors[-1]
    return (Registry(newest.address), *(Registry(r.address, newest.block) for r in anchors[:-1]))


def ledger(session: Session, chain: ChainAccess) -> BrandLedger:
    """The counted brand events of the follower's view (503 without a usable deployment)."""
    return BrandLedger.load(session, registries(chain))


def brand_speaks(session: Session, chain: ChainAccess, wallet: str | None) -> bool:
    """Whether the brand's word still holds on its pages: not when the followed chain has its
    wallet revoked or compromised (a stolen key's holder would keep its content there); yes
    when that cannot be read now."""
    if not chain.configured or not wallet:
        return True
    try:
        standing = ledger(session, chain).standing(wallet)
    except (ApiError, ChainError):
        return True
    return standing is None or standing.can_sign


def _status(standing: BrandStanding | None) -> str:
    if standing is None:
        return "unregistered"
    if standing.compromised_since is not None:
        return "compromised"
    return "revoked" if standing.revoked_block is not None else "registered"


def brand_on_chain(brands: BrandLedger, prefix: str, wallet: str | None) -> BrandOnChain:
    """The followed chain's view of `prefix` and of the brand's `wallet`."""
    holders = brands.holders(prefix)
    holder = holders[-1] if holders else None
    standing = brands.standing(wallet)
    if standing is not None and standing.prefix != prefix:
        standing = None  # the wallet holds another prefix: nothing of this one
    return BrandOnChain(
        registered=standing is not None and standing.can_sign,
        status=_status(standing),  # type: ignore[arg-type]
        brand_address=holder,
        matches_wallet=holder is not None and holder == wallet,
        registered_block=None if standing is None else standing.registered_block,
        revoked_block=None if standing is None else standing.revoked_block,
        revoked_at=None if standing is None else standing.revoked_at,
        compromised_since=None if standing is None else standing.compromised_since,
    )


def refuse_if_barred(brands: BrandLedger, wallet: str) -> None:
    """409 if the chain no longer takes `wallet`'s signature on a root (revoked or
    compromised): its commissioning could never be anchored, and must never be shown genuine."""
    standing = brands.standing(wallet)
    if standing is None or standing.can_sign:
        return
    if standing.compromised_since is not None:
        raise Conflict(
            f"brand wallet {wallet} is marked compromised since {standing.compromised_since} "
            "(unix seconds) on chain: it cannot commission; register a new wallet"
        )
    raise Conflict(
        f"brand wallet {wallet} was revoked on chain in block {standing.revoked_block}: "
        "it cannot commission"
    )
