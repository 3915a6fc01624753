"""Items in each verdict state the item page words, served over real HTTP for a browser
(tests/api/served_support.py): made through the API, the anchoring worker, the follower and
TraceAnchor v2 as a brand and the platform would make them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.clients import TraceAnchorV2Client
from tests.api.flows import (
    CONFIRMATIONS,
    OTHER_PREFIX,
    PREFIX,
    Api,
    anchor_worker,
    follow,
    gtin13,
    mine,
    register_brand_on_chain,
)
from tests.api.served_support import Served

REVOKED_PREFIX = "0712345"


@dataclass(frozen=True)
class PageState:
    """One state's page: its path on the served API and the verdict its <h1> carries."""

    name: str
    path: str
    verdict: str


def _anchor(api: Api, *, final: bool) -> None:
    """One pass of the anchoring worker; with `final`, mined past the confirmations and again."""
    assert api.chain is not None
    worker = anchor_worker(api)
    worker.run_once()
    if final:
        mine(api.chain.w3, CONFIRMATIONS)
        worker.run_once()
    follow(api)


def _revoked_item(api: Api) -> str:
    """A second brand signs a commissioning, then the admin revokes its key before it is
    anchored: the chain refuses the root, the item is the brand's no more (brand_revoked)."""
    chain = api.chain
    assert chain is not None
    wallet: LocalAccount = Account.create()
    key = api.brand(wallet, REVOKED_PREFIX, "Beta Dairy")
    gtin = gtin13(REVOKED_PREFIX, "100")
    api.product(key, gtin, "Skyr 500 g")
    register_brand_on_chain(api, REVOKED_PREFIX)
    api.commission(key, wallet, gtin, ["R1"])
    anchor = chain.anchor
    assert isinstance(anchor, TraceAnchorV2Client)
    anchor.send_revoke_brand(chain.admin, wallet.address)
    follow(api)
    _anchor(api, final=True)  # the chain refuses the revoked key's root: failed
    return f"/01/{gtin}/21/R1"


def make_states(served: Served) -> list[PageState]:
    """Genuine (final), not yet confirmed (anchored, confirmations to come), not recognised,
    unregistered (neutral) and brand revoked."""
    world = served.world
    api = world.api
    assert api.chain is not None
    register_brand_on_chain(api, PREFIX)
    _anchor(api, final=True)  # the world's commissioning: A1, A2, S1-S3 genuine
    revoked = _revoked_item(api)
    api.commission(world.brand_key, api.chain.brand, world.gtin, ["P1"])
    _anchor(api, final=False)  # in a block, not final yet
    gtin = world.gtin
    return [
        PageState("genuine", f"/01/{gtin}/21/{world.serials[0]}", "genuine"),
        PageState("not-yet-confirmed", f"/01/{gtin}/21/P1", "not_yet_confirmed"),
        PageState("not-recognised", f"/01/{gtin}/21/NOT-OURS-9", "not_recognised"),
        PageState("unregistered", f"/01/{gtin13(OTHER_PREFIX, '42')}/21/X1", "unregistered"),
        PageState("revoked", revoked, "brand_revoked"),
    ]


@pytest.fixture(scope="module")
def states(served: Served) -> Iterator[dict[str, PageState]]:
    yield {state.name: state for state in make_states(served)}
