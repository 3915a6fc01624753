"""core.verdict: DESIGN's authenticity rule and precedence, one case per rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.verdict import BrandFacts, Decision, ItemFacts, RootFacts, Verdict, verdict

PREFIX = "0614141"
OLD = "0x" + "aa" * 20
NEW = "0x" + "bb" * 20
OTHER = "0x" + "cc" * 20


def brands(*facts: BrandFacts) -> dict[str, BrandFacts]:
    return {f.address.lower(): f for f in facts}


def item(root: RootFacts | None, *facts: BrandFacts, **kw: object) -> ItemFacts:
    return ItemFacts(prefix=PREFIX, known=True, root=root, brands=brands(*facts), **kw)  # type: ignore[arg-type]


def signed(at: int = 100, *, final: bool = True, **kw: object) -> RootFacts:
    return RootFacts(signer=OLD, anchored_at=at, final=final, **kw)  # type: ignore[arg-type]


def test_genuine_needs_the_prefix_holders_signature_and_finality() -> None:
    brand = BrandFacts(OLD, PREFIX)
    assert verdict(item(signed(), brand)) == Decision(Verdict.GENUINE, OLD)
    assert verdict(item(signed(final=False), brand)).verdict is Verdict.NOT_YET_CONFIRMED


def test_a_gtin_of_no_registered_brand_is_neutral_whatever_else_is_known() -> None:
    facts = ItemFacts(prefix=None, known=False)
    assert verdict(facts).verdict is Verdict.UNREGISTERED
    assert (
        verdict(ItemFacts(prefix=None, known=True, root=signed())).verdict is Verdict.UNREGISTERED
    )


def test_an_unknown_serial_of_a_registered_prefix_is_not_recognised() -> None:
    assert verdict(ItemFacts(prefix=PREFIX, known=False)).verdict is Verdict.NOT_RECOGNISED


def test_a_platform_root_or_another_prefixs_signature_is_never_the_brands_word() -> None:
    platform = RootFacts(signer=None, anchored_at=100, final=True)
    decision = verdict(item(platform, BrandFacts(OLD, PREFIX)))
    assert decision.verdict is Verdict.NOT_BRAND_SIGNED
    assert decision.notes == ("commissioning in a platform root",)
    stranger = RootFacts(signer=OTHER, anchored_at=100, final=True)
    assert verdict(item(stranger, BrandFacts(OTHER, "9999999"))).verdict is Verdict.NOT_BRAND_SIGNED
    # A signer the chain never registered is no brand either.
    assert verdict(item(stranger)).verdict is Verdict.NOT_BRAND_SIGNED


def test_a_root_from_the_compromised_range_is_not_confirmed_until_the_new_key_resigns() -> None:
    old = BrandFacts(OLD, PREFIX, revoked_at=300, compromised_since=200)
    before, inside = signed(199), signed(200)
    assert verdict(item(before, old)).verdict is Verdict.GENUINE
    assert verdict(item(inside, old)).verdict is Verdict.BRAND_COMPROMISED
    new = BrandFacts(NEW, PREFIX)
    resigned = signed(200, endorser=NEW, endorsed_at=400)
    decision = verdict(item(resigned, old, new))
    assert decision.verdict is Verdict.GENUINE and decision.confirmed_by == NEW
    assert f"re-signed by {NEW}" in decision.notes
    # A re-signature made once the new key itself was compromised counts for nothing.
    stolen_too = BrandFacts(NEW, PREFIX, compromised_since=400)
    assert verdict(item(resigned, old, stolen_too)).verdict is Verdict.BRAND_COMPROMISED
    # Nor does a re-signature by a holder of another prefix.
    elsewhere = BrandFacts(NEW, "9999999")
    assert verdict(item(resigned, old, elsewhere)).verdict is Verdict.BRAND_COMPROMISED


def test_items_confirmed_before_a_revocation_stay_genuine_and_say_what_is_known() -> None:
    revoked = BrandFacts(OLD, PREFIX, revoked_at=500)
    decision = verdict(item(signed(100), revoked))
    assert decision.verdict is Verdict.GENUINE
    assert decision.notes == (f"brand key {OLD} revoked at 500",)


def test_a_refused_commissioning_names_the_reason_and_is_never_genuine() -> None:
    revoked = BrandFacts(OLD, PREFIX, revoked_at=500)
    facts = item(None, revoked, refused_by=OLD)
    assert verdict(facts).verdict is Verdict.BRAND_REVOKED
    compromised = BrandFacts(OLD, PREFIX, compromised_since=50)
    assert verdict(item(None, compromised, refused_by=OLD)).verdict is Verdict.BRAND_COMPROMISED
    assert verdict(item(None, BrandFacts(OLD, PREFIX), refused_by=OLD)).verdict is (
        Verdict.NOT_BRAND_SIGNED
    )


def test_a_commissioning_not_on_chain_yet_is_not_yet_confirmed() -> None:
    brand = BrandFacts(OLD, PREFIX)
    assert verdict(item(None, brand)).verdict is Verdict.NOT_YET_CONFIRMED
    assert verdict(item(None, brand, pending_signer=OLD)).verdict is Verdict.NOT_YET_CONFIRMED
    # A revoked or compromised signer outranks "not yet confirmed" (DESIGN's precedence).
    revoked = BrandFacts(OLD, PREFIX, revoked_at=5)
    assert verdict(item(None, revoked, pending_signer=OLD)).verdict is Verdict.BRAND_REVOKED
    stolen = BrandFacts(OLD, PREFIX, compromised_since=5)
    assert verdict(item(None, stolen, pending_signer=OLD)).verdict is Verdict.BRAND_COMPROMISED
    unseen = RootFacts(signer=None, anchored_at=None)
    assert verdict(item(unseen, brand)).verdict is Verdict.NOT_YET_CONFIRMED


@given(
    anchored=st.integers(1, 10**6),
    since=st.one_of(st.none(), st.integers(1, 10**6)),
    endorsed=st.one_of(st.none(), st.integers(1, 10**6)),
    final=st.booleans(),
)
def test_genuine_only_for_a_signature_made_before_the_signing_keys_compromise(
    anchored: int, since: int | None, endorsed: int | None, final: bool
) -> None:
    old = BrandFacts(OLD, PREFIX, compromised_since=since)
    new = BrandFacts(NEW, PREFIX)
    root = signed(anchored, final=final, endorser=NEW if endorsed else None, endorsed_at=endorsed)
    decision = verdict(item(root, old, new))
    word = since is None or anchored < since or endorsed is not None
    if decision.verdict is Verdict.GENUINE:
        assert word and final
    assert (decision.verdict in (Verdict.GENUINE, Verdict.NOT_YET_CONFIRMED)) == word


def test_a_recall_by_the_brand_ranks_below_the_brands_word_and_above_confirmation() -> None:
    from core.verdict import RecallFacts

    recall = RecallFacts(recalled_at=500, scope="lot", lot="L1")
    brand = BrandFacts(OLD, PREFIX)
    final = verdict(item(signed(), brand, recall=recall))
    assert final == Decision(Verdict.RECALLED, OLD, since=500, recall=recall)
    assert verdict(item(signed(final=False), brand, recall=recall)).verdict is Verdict.RECALLED
    assert verdict(item(None, recall=recall)).verdict is Verdict.RECALLED  # not anchored yet
    revoked = BrandFacts(OLD, PREFIX, revoked_at=50)
    lost = verdict(item(signed(100), revoked, recall=recall))
    assert (lost.verdict, lost.since, lost.recall) == (Verdict.BRAND_REVOKED, 50, None)
    compromised = BrandFacts(OLD, PREFIX, compromised_since=90)
    assert verdict(item(signed(100), compromised, recall=recall)).since == 90
    platform = RootFacts(signer=None, anchored_at=100, final=True)
    assert verdict(item(platform, brand, recall=recall)).verdict is Verdict.NOT_BRAND_SIGNED
    unknown = ItemFacts(prefix=PREFIX, known=False, recall=recall)
    assert verdict(unknown).verdict is Verdict.NOT_RECOGNISED
