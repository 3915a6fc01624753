"""The resolver's JSON (GET /01/{gtin}/21/{serial} with Accept: application/json or ?format=json),
described for the OpenAPI document; api/resolver_view.py builds it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.cold_chain import ColdChain


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecallOut(_Out):
    """A standing recall by the brand holding the item's prefix (docs/recalls.md)."""

    recalled_at: str = Field(
        alias="recalledAt", description="ISO-8601 UTC: the recall event's eventTime"
    )
    scope: Literal["item", "lot", "product"] = Field(
        description="What was recalled: this item, every item of `lot`, or every item of the GTIN"
    )
    lot: str | None = Field(description="The lot recalled (scope lot), else null")


class Authenticity(_Out):
    """The verdict and what it rests on; `verdict` is null when it cannot be checked now. The
    reasons are data (`since`, `recall`, `confirmationsLeft`) for the page to word in the
    reader's language; `text` and `notes` are English, kept for existing readers."""

    verdict: str | None = Field(
        description="By precedence: unregistered, not_recognised, brand_revoked, "
        "brand_compromised, not_brand_signed, recalled, not_yet_confirmed, genuine "
        "(core/verdict.py); null when it cannot be checked now"
    )
    text: str
    confirmed_by: str | None = Field(alias="confirmedBy")
    notes: list[str]
    since: str | None = Field(
        default=None,
        description="ISO-8601 UTC: when what the verdict rests on took effect: the brand key's "
        "revocation (brand_revoked), its compromisedSince (brand_compromised), the recall "
        "(recalled); else null",
    )
    recall: RecallOut | None = Field(
        default=None, description="The recall (verdict recalled), else null"
    )
    confirmations_left: int | None = Field(
        default=None,
        alias="confirmationsLeft",
        ge=0,
        description="not_yet_confirmed: blocks the commissioning's anchoring still needs on the "
        "followed chain before it is final; null when the root is not in a block yet, when "
        "the chain's finalized tag decides finality, and for any other verdict",
    )
    status: str = Field(description="Finality of the commissioning: none, pending, ... final")
    signed_by_brand: str | None = Field(alias="signedByBrand")
    root: str | None = Field(
        default=None,
        description="The root holding the commissioning's proven projection (null until proven)",
    )
    contract: str | None = Field(default=None, description="The TraceAnchor holding `root`")
    brand_check: str | None = Field(
        default=None,
        alias="brandCheck",
        description="How to check on chain that the brand confirmed `root`",
    )


class Anchoring(_Out):
    status: str
    root: str | None
    tx_hash: str | None = Field(alias="txHash")
    block_number: int | None = Field(alias="blockNumber")
    signed_by_brand: str | None = Field(alias="signedByBrand")
    contract: str | None = Field(description="The TraceAnchor release holding the root")
    explorer_url: str | None = Field(
        default=None,
        alias="explorerUrl",
        description="The transaction on the block explorer (EXPLORER_URL + /tx/ + txHash)",
    )


class SensorSummary(_Out):
    readings: int | None
    min_temperature_c: float | None = Field(alias="minTemperatureC")
    max_temperature_c: float | None = Field(alias="maxTemperatureC")
    excursion_minutes: int | None = Field(alias="excursionMinutes")


class ErasureNote(_Out):
    """When and by whom an event's personal data was erased."""

    status: str
    erased_at: str = Field(alias="erasedAt")
    erased_by: str = Field(alias="erasedBy")


class Geo(_Out):
    """A position at 2 decimals (about 1 km), from the projection's geo URI."""

    lat: float
    lon: float


class HistoryEntry(_Out):
    """The item's public projection of one event (DESIGN.md "Public and private views") with
    its kind 2 leaf's salt and Merkle proof; nothing else of the event. title, displayTime,
    place, geo and sensorSummary are read from `projection` for display."""

    event_kind: int = Field(alias="eventKind", description="0 an event, 1 an errorDeclaration")
    kind_name: str = Field(alias="kindName")
    type: str | None
    biz_step: str | None = Field(alias="bizStep")
    title: str | None
    event_time: str | None = Field(alias="eventTime")
    display_time: str | None = Field(alias="displayTime")
    place: str | None = Field(description="A public location's name, else its id")
    geo: Geo | None
    sensor_summary: SensorSummary | None = Field(alias="sensorSummary")
    projection: dict[str, Any] | None = Field(
        description="P(event, epc): a valid EPCIS 2.0 event, as hashed"
    )
    projection_hash: str | None = Field(
        alias="projectionHash", description="CBV 2.0 canonical hash of `projection` (0x hex)"
    )
    proven: bool = Field(description="False: no kind 2 leaf holds this projection yet")
    salt: str | None
    leaf: str | None = Field(description="The kind 2 leaf (docs/formats.md)")
    proof: list[str] | None
    root: str | None
    finality: str = Field(description="pending, anchored, final, failed; unproven without proof")
    anchoring: Anchoring | None
    note: str | None = Field(description="Why an entry has no proof, when it has none")
    erasure: ErasureNote | None = Field(
        description="Set once an admin erased the event's personal data: then only its kind,"
        " root and anchoring are shown"
    )


class FinalityRule(_Out):
    """When an anchored root counts as final (FINALITY, CONFIRMATIONS, as the anchorer has
    them): the chain's `finalized` tag, else N blocks on top of the anchoring block."""

    mode: str = Field(description="tag, confirmations, or auto (tag unless a dev node)")
    confirmations: int


class Verify(_Out):
    contract: str | None
    contracts: dict[str, str]
    chain_id: int | None = Field(alias="chainId")
    function: str
    root_info: str = Field(alias="rootInfo")
    leaf: str
    how: str
    chain_name: str | None = Field(
        default=None, alias="chainName", description="CHAIN_NAME, else the chain id's name"
    )
    explorer_tx_url: str | None = Field(
        default=None,
        alias="explorerTxUrl",
        description="A transaction's explorer page with {txHash} to fill in (null: no explorer)",
    )
    bundle_url: str | None = Field(
        default=None,
        alias="bundleUrl",
        description="The item's proof bundle (docs/proof-bundle.md), a download",
    )
    rpc_url: str | None = Field(
        default=None,
        alias="rpcUrl",
        description="The public JSON-RPC the page's verifier asks (PUBLIC_RPC_URL; null: none)",
    )
    finality: FinalityRule | None = None


class ItemKey(_Out):
    gtin: str
    serial: str
    epc: str
    link: str
    lot: str | None = Field(default=None, description="GS1 AI (10), when the item recorded one")
    expiry: str | None = Field(
        default=None, description="Expiry date (AI 17, YYYY-MM-DD), when the item recorded one"
    )


class ProductRef(_Out):
    gtin: str
    name: str


class BrandRef(_Out):
    name: str
    company_prefix: str = Field(alias="companyPrefix")
    wallet_address: str | None = Field(alias="walletAddress")


class ContentContact(_Out):
    """How a shopper reaches the brand; each way null when the brand gave none."""

    url: str | None = Field(description="https:// URL")
    email: str | None
    phone: str | None = Field(description="E.164, e.g. +441234567890")


class BrandContent(_Out):
    """The brand's content for the product in the viewer's language (Accept-Language), else in
    the product's default language. Plain text: never HTML."""

    lang: str = Field(description="BCP 47 tag of the content, e.g. en, zh-Hans")
    name: str = Field(description="The product's name in `lang`")
    description: str | None = Field(description="Plain text, line breaks allowed")
    image: str | None = Field(
        description="data:image/webp;base64,... (at most 640 px a side, 60 KB, no metadata)"
    )
    image_width: int | None = Field(alias="imageWidth")
    image_height: int | None = Field(alias="imageHeight")
    contact: ContentContact | None


class ResolvedItem(_Out):
    """An item's public projections with proofs anyone can check against the chain."""

    item: ItemKey
    product: ProductRef
    brand: BrandRef
    authentic: Authenticity
    history: list[HistoryEntry]
    cold_chain: ColdChain | None = Field(
        default=None, alias="coldChain", description="Per shipment the item travelled in"
    )
    verify: Verify
    content: BrandContent | None = Field(
        default=None,
        description="The brand's content (null when it has none); lot and expiry are in `item`",
    )


class ScannedCode(_Out):
    """The code scanned: GTIN-14, serial, and the lot when the link named one."""

    gtin: str
    serial: str
    lot: str | None


class BrandName(_Out):
    """The brand account holding the code's company prefix."""

    name: str
    company_prefix: str = Field(alias="companyPrefix")


class ReportLinks(_Out):
    """Where a shopper reports a not-recognised code (public, rate limited per client)."""

    url: str = Field(description="POST a JSON CodeReportIn here")
    form_url: str = Field(alias="formUrl", description="POST the page's HTML form here")
    link: str = Field(description="The code's Digital Link path, the `link` to send")


class UnknownCodeAuthenticity(Authenticity):
    """The verdict on an unknown code; for a not-recognised one, its brand and where to report
    it (both null for an unregistered GTIN, and when the verdict cannot be checked now)."""

    code: ScannedCode | None = None
    brand: BrandName | None = None
    report: ReportLinks | None = None


class UnresolvedItem(_Out):
    """404 as JSON: why, and the verdict on the unknown serial when the GTIN could be read."""

    detail: str | list[dict[str, Any]]
    authentic: UnknownCodeAuthenticity | None = None


class LotRef(_Out):
    lot: str = Field(description="GS1 AI (10)")
    expiry: str | None = Field(
        description="Expiry date (YYYY-MM-DD) the lot's items record, when they agree on one"
    )


class ResolvedProduct(_Out):
    """A GTIN-only or lot-level Digital Link: the product, its brand, the lot; never a serial."""

    link: str = Field(description="The uncompressed Digital Link of the product or lot")
    product: ProductRef
    brand: BrandRef
    lot: LotRef | None
    content: BrandContent | None = Field(
        default=None, description="The brand's content (null when it has none)"
    )


class SupportedLinkType(_Out):
    namespace: str
    prefix: str


class ResolverDescription(_Out):
    """/.well-known/gs1resolver (GS1-Conformant resolver standard, section 3)."""

    name: str
    resolver_root: str = Field(alias="resolverRoot")
    supported_primary_keys: list[str] = Field(alias="supportedPrimaryKeys")
    supported_link_type: list[SupportedLinkType] = Field(alias="supportedLinkType")
    link_type_default_can_be_linkset: bool = Field(alias="linkTypeDefaultCanBeLinkset")
    json_ld_context_location: str = Field(alias="jsonLdContextLocation")
