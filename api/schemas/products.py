"""Products (GTINs of a brand), their items, and commissioning drafts."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from api.schemas.common import ApiModel, Gtin, Serial, TypedData, Uri


class ProductBase(ApiModel):
    """A trade item: GTIN-8/12/13/14 (stored as GTIN-14) and a name."""

    gtin: Gtin = Field(description="GTIN-8, -12, -13 or -14 with a valid check digit")
    name: str = Field(min_length=1, max_length=200)


class ProductCreate(ProductBase):
    """A brand adds a product; the GTIN must carry the brand's company prefix."""


class ProductPublic(ProductBase):
    """A product as anyone sees it."""

    company_prefix: str
    brand_name: str


class ItemPublic(ApiModel):
    """A serialised item and its public Digital Link."""

    gtin: str
    serial: str
    epc: str
    link: str
    commissioned: bool
    lot: str | None = Field(default=None, description="GS1 AI (10), from the commissioning")
    expiry: date | None = Field(default=None, description="GS1 AI (17), from the commissioning")


class ItemsCommission(ApiModel):
    """Serials to commission; one ObjectEvent (ADD, commissioning) per serial."""

    serials: list[Serial] = Field(min_length=1, max_length=1000)
    event_time: datetime | None = Field(default=None, description="Default: now")
    read_point: Uri | None = Field(default=None, description="A URI (e.g. an SGLN URN)")
    biz_location: Uri | None = Field(default=None, description="A URI (e.g. an SGLN URN)")
    lot: Serial | None = Field(
        default=None, description="GS1 AI (10) lot, in ILMD as cbvmda:lotNumber; the item keeps it"
    )
    expiry: date | None = Field(
        default=None,
        description="Expiry date (AI 17), in ILMD as cbvmda:itemExpirationDate; the item keeps it",
    )


class DraftEvent(ApiModel):
    """One commissioning event in a draft."""

    serial: str
    epc: str
    event_hash: str


class CommissioningPublic(ApiModel):
    """A commissioning: the Commissioning typed data to sign, then the batch it went into."""

    id: str
    gtin: str
    status: str
    root: str
    leaf_count: int
    brand: str
    typed_data: TypedData
    events: list[DraftEvent]
    lot: str | None = None
    expiry: date | None = None
    brand_registered_on_chain: bool | None = None
    batch_status: str | None = Field(
        default=None, description="pending, anchored, final, or failed (the chain refused it)"
    )
    batch_error: str | None = Field(
        default=None, description="Why the chain refused the root (e.g. AnchorBrandRevoked)"
    )
    items: list[ItemPublic] = Field(default_factory=list)
