"""store.brand_standing: which registrations count, longest prefix, standing per account."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

import store
from store.brand_standing import BrandLedger, Registry
from store.chain_view import record_block, record_log

V1 = "0x" + "11" * 20
V2 = "0x" + "22" * 20
BRAND = "0x" + "b0" * 20
SHADOW = "0x" + "5a" * 20
UPGRADE_BLOCK = 10
TRUSTED = (Registry(V2), Registry(V1, UPGRADE_BLOCK))
GTIN = "00614141555550"


def _log(session: Session, block: int, contract: str, event: str, **args: Any) -> None:
    record_block(session, block, f"0x{block:064x}", f"0x{block - 1:064x}", 1_000 + block)
    subject = str(args.get("brand", contract))
    record_log(
        session,
        block_number=block,
        block_hash=f"0x{block:064x}",
        log_index=0,
        tx_hash=f"0x{block:064x}",
        contract=contract,
        event=event,
        subject=subject,
        args=args,
    )


def test_an_earlier_release_cannot_register_behind_the_newest_ones_back(
    db_sessions: sessionmaker[Session],
) -> None:
    with store.transaction(db_sessions) as session:
        # Before the upgrade on v1 (counts, copied to v2 at the upgrade), then v2's own.
        _log(session, 3, V1, "BrandRegistered", brand=BRAND, companyPrefix="0614141")
        _log(session, 11, V2, "BrandRegistered", brand=BRAND, companyPrefix="0614141")
        # After the upgrade, v1 (nested prefixes allowed there) registers a shadow account.
        _log(session, 12, V1, "BrandRegistered", brand=SHADOW, companyPrefix="06141415")
        _log(session, 13, V1, "BrandRevoked", brand=BRAND, companyPrefix="0614141")
    with db_sessions() as session:
        assert BrandLedger.load(session, TRUSTED).prefix_of_gtin(GTIN) == "0614141"
        assert BrandLedger.load(session, TRUSTED).holders("0614141") == [BRAND]
        assert BrandLedger.load(session, TRUSTED).standing(SHADOW) is None
        standing = BrandLedger.load(session, TRUSTED).standing(BRAND)
        # A revocation counts from every release listed.
        assert standing is not None and standing.revoked_block == 13 and not standing.can_sign
        # Counting every release (as before the review) would have picked the shadow's prefix.
        everything = (Registry(V2), Registry(V1))
        assert BrandLedger.load(session, everything).prefix_of_gtin(GTIN) == "06141415"
        # Not listed at all: nothing counts.
        assert BrandLedger.load(session, ()).prefix_of_gtin(GTIN) is None


def test_an_earlier_releases_brand_counts_only_if_carried_over_or_revoked_before(
    db_sessions: sessionmaker[Session],
) -> None:
    """The upgrade carries v1's active brands over, except a prefix nested in an earlier one
    (v1 allowed it, v2 refuses it): that one must not count, or the resolver and v2 disagree
    on whose GTINs they are. A brand v1 revoked before the upgrade still counts (its roots)."""
    nested, gone = "0x" + "ee" * 20, "0x" + "d0" * 20
    with store.transaction(db_sessions) as session:
        _log(session, 2, V1, "BrandRegistered", brand=BRAND, companyPrefix="0614141")
        _log(session, 3, V1, "BrandRegistered", brand=nested, companyPrefix="06141415")
        _log(session, 4, V1, "BrandRegistered", brand=gone, companyPrefix="0799999")
        _log(session, 5, V1, "BrandRevoked", brand=gone, companyPrefix="0799999")
        _log(session, 11, V2, "BrandRegistered", brand=BRAND, companyPrefix="0614141")
    with db_sessions() as session:
        assert BrandLedger.load(session, TRUSTED).prefix_of_gtin(GTIN) == "0614141"
        assert BrandLedger.load(session, TRUSTED).standing(nested) is None
        standing = BrandLedger.load(session, TRUSTED).standing(gone)
        assert standing is not None and standing.prefix == "0799999" and not standing.can_sign
        assert BrandLedger.load(session, TRUSTED).prefix_of_gtin("00799999000015") == "0799999"
