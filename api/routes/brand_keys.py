"""A brand key's life after onboarding: revocation, a recorded compromise, and re-signing.

The admin's wallet sends `revokeBrand` and `markCompromised` (TraceAnchor v2); after a
compromise the prefix's new key re-signs the brand's roots from the compromised range with
`endorseRoot`. The API prepares the unsigned transactions and the EIP-712 payloads; wallets
sign (it never holds a key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.brand_state import anchor_releases, ledger
from api.catalog import brand_of_principal
from api.chain_access import trace_anchor
from api.deps import AdminPrincipal, BrandPrincipal, ChainDep, SessionDep, wallet_of
from api.errors import Conflict, FieldError
from api.openapi_doc import errors
from api.routes.brands import brand_by_prefix
from api.schemas.common import Address, CompanyPrefix, EthTx, Hex32, SignatureHex, UnsignedTx
from api.state import ChainAccess
from chain.clients import TraceAnchorClient, TraceAnchorV2Client
from core.eip712 import Commissioning, anchor_domain_v2, typed_data
from core.hexstr import hex0x
from core.verdict import ItemFacts, verdict
from store.brand_standing import BrandLedger, root_facts
from store.models import AnchorBatch, Principal

router = APIRouter(prefix="/brands", tags=["brands"])


def _v2(chain: ChainAccess) -> TraceAnchorV2Client:
    client: TraceAnchorClient = trace_anchor(chain)
    if not isinstance(client, TraceAnchorV2Client):
        raise Conflict("TraceAnchor v2 is not deployed on this chain: keys cannot be managed")
    return client


def _sender(admin: Principal, sender: str | None) -> str:
    if sender is None and admin.wallet_address is None:
        raise Conflict("your principal has no wallet: pass ?sender=<the admin wallet address>")
    return sender or wallet_of(admin)


@router.get("/{prefix}/revocation-tx", response_model=UnsignedTx, responses=errors(404, 409))
def revocation_tx(
    prefix: CompanyPrefix,
    session: SessionDep,
    chain: ChainDep,
    admin: AdminPrincipal,
    sender: Annotated[Address | None, Query(description="The admin wallet that sends it")] = None,
) -> UnsignedTx:
    """The unsigned TraceAnchor v2 revokeBrand transaction (admin): the brand's wallet signs
    no more roots; its earlier roots stay confirmed unless a compromise is recorded."""
    brand = brand_by_prefix(session, prefix)
    wallet = wallet_of(brand.principal)
    tx = _v2(chain).build_revoke_brand(_sender(admin, sender), wallet)
    return UnsignedTx(description=f"TraceAnchor.revokeBrand({wallet})", tx=EthTx.of(tx))


@router.get("/{prefix}/compromise-tx", response_model=UnsignedTx, responses=errors(404, 409))
def compromise_tx(
    prefix: CompanyPrefix,
    session: SessionDep,
    chain: ChainDep,
    admin: AdminPrincipal,
    since: Annotated[
        int, Query(description="Unix seconds from which the key was out of the brand's hands")
    ],
    sender: Annotated[Address | None, Query(description="The admin wallet that sends it")] = None,
) -> UnsignedTx:
    """The unsigned TraceAnchor v2 markCompromised transaction (admin): roots the brand's
    wallet signed from `since` on are no longer the brand's word until its new key re-signs."""
    brand = brand_by_prefix(session, prefix)
    wallet = wallet_of(brand.principal)
    if not 0 < since < 2**64:  # not in the future by the chain's clock: the contract checks it
        raise FieldError(["query", "since"], "must be a unix time in seconds")
    tx = _v2(chain).build_mark_compromised(_sender(admin, sender), wallet, since)
    return UnsignedTx(
        description=f"TraceAnchor.markCompromised({wallet}, {since})", tx=EthTx.of(tx)
    )


def _new_key(brands: BrandLedger, prefix: str, wallet: str) -> None:
    """409 unless `wallet` now holds `prefix` on chain (follower's view) and may sign."""
    holders = brands.holders(prefix)
    standing = brands.standing(wallet)
    if not holders or holders[-1] != wallet or standing is None or not standing.can_sign:
        raise Conflict(
            f"{wallet} does not hold company prefix {prefix} on chain (as the chain follower saw"
            " it): the registrar registers the new key first"
        )


@router.get("/{prefix}/roots-to-resign", responses=errors(404, 409))
def roots_to_resign(
    prefix: CompanyPrefix,
    session: SessionDep,
    chain: ChainDep,
    principal: BrandPrincipal,
    wallet: Annotated[Address, Query(description="The prefix's new key, which re-signs")],
) -> list[dict[str, Any]]:
    """The brand's own roots on TraceAnchor v2 that are not the brand's word (signed by a key
    from its compromised range), each with the Commissioning payload the new key signs."""
    brand = brand_of_principal(session, principal)
    if brand.company_prefix != prefix:
        raise Conflict(f"company prefix {prefix} is not yours")
    brands = ledger(session, chain)
    _new_key(brands, prefix, wallet)
    contracts = anchor_releases(chain)
    v2 = contracts.get(2)
    if v2 is None:
        raise Conflict("TraceAnchor v2 is not deployed on this chain: roots cannot be re-signed")
    old_keys = [k for k in brands.holders(prefix) if k != wallet]
    batches = session.scalars(
        select(AnchorBatch)
        .where(AnchorBatch.brand_address.in_(old_keys), AnchorBatch.anchor_version == 2)
        .order_by(AnchorBatch.id)
    )
    domain = anchor_domain_v2(chain.deployment().chain_id, v2)
    found = []
    for batch in batches:
        facts = root_facts(session, batch, v2)
        if facts.anchored_at is None:
            continue
        signers = brands.facts(facts.signer, facts.endorser)
        if verdict(ItemFacts(prefix, True, facts, brands=signers)).confirmed_by is not None:
            continue  # the brand's word already: nothing to restore
        message = Commissioning(brand=wallet, root=batch.root, leaf_count=batch.leaf_count)
        found.append(
            {
                "root": hex0x(batch.root),
                "leafCount": batch.leaf_count,
                "signedBy": facts.signer,
                "anchoredAt": facts.anchored_at,
                "typedData": typed_data(message, domain),
            }
        )
    return found


@router.get("/{prefix}/resign-tx", response_model=UnsignedTx, responses=errors(404, 409))
def resign_tx(
    prefix: CompanyPrefix,
    session: SessionDep,
    chain: ChainDep,
    principal: BrandPrincipal,
    root: Annotated[Hex32, Query(description="The root to re-sign")],
    wallet: Annotated[Address, Query(description="The prefix's new key, which signed")],
    signature: Annotated[SignatureHex, Query(description="The new key's Commissioning signature")],
    sender: Annotated[Address | None, Query(description="Who relays it (default: wallet)")] = None,
) -> UnsignedTx:
    """The unsigned TraceAnchor v2 endorseRoot transaction: anyone may relay the new key's
    re-signature; the contract checks it (a refusal is a 409 naming why)."""
    brand = brand_of_principal(session, principal)
    if brand.company_prefix != prefix:
        raise Conflict(f"company prefix {prefix} is not yours")
    _new_key(ledger(session, chain), prefix, wallet)
    signed = bytes.fromhex(signature.removeprefix("0x"))
    tx = _v2(chain).build_endorse_root(sender or wallet, root, wallet, signed)
    return UnsignedTx(description=f"TraceAnchor.endorseRoot({root}, {wallet})", tx=EthTx.of(tx))
