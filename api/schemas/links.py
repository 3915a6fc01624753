"""Resolver links a brand registers for a GTIN, one lot of it, or one serial."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from api.schemas.common import ApiModel, Serial
from core import link_rules
from core.errors import LinkError


def _rule(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A core.link_rules check as a pydantic validator: its LinkError is the 422's message."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except LinkError as exc:
            raise ValueError(str(exc)) from None

    return validate


LinkType = Annotated[
    str,
    AfterValidator(_rule(link_rules.link_type)),
    Field(
        max_length=100,
        description="A GS1 Web Vocabulary link type, e.g. gs1:pip (or https://gs1.org/voc/pip)",
        json_schema_extra={"pattern": link_rules.LINK_TYPE_PATTERN},
    ),
]
LangTag = Annotated[
    str,
    Field(
        max_length=link_rules.LANG_TAG_MAX_LEN,
        description="BCP 47, e.g. en or de-CH",
        json_schema_extra={"pattern": link_rules.LANG_TAG_PATTERN},
    ),
]

MediaType = Annotated[
    str,
    AfterValidator(_rule(link_rules.media_type)),
    Field(
        max_length=link_rules.MEDIA_TYPE_MAX_LEN,
        json_schema_extra={"pattern": link_rules.MEDIA_TYPE_PATTERN},
    ),
]


class LinkCreate(ApiModel):
    """A link for the GTIN in the path; with `lot` for that lot only, with `serial` for that
    item only (not both). https only (http to a loopback host in dev mode)."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["lot", "serial"],
                "properties": {"lot": {"type": "string"}, "serial": {"type": "string"}},
            }
        }
    )

    link_type: LinkType
    href: str = Field(
        min_length=1,
        max_length=link_rules.HREF_MAX_LEN,
        description="https://host[:port][/path][?query][#fragment]",
        json_schema_extra={"pattern": link_rules.HREF_PATTERN},
    )
    title: Annotated[str, AfterValidator(_rule(link_rules.title))] = Field(
        min_length=1,
        max_length=link_rules.TITLE_MAX_LEN,
        json_schema_extra={"pattern": link_rules.TITLE_PATTERN},
    )
    hreflang: Annotated[list[LangTag], AfterValidator(_rule(link_rules.hreflang))] = Field(
        default_factory=list,
        max_length=link_rules.HREFLANG_MAX,
        json_schema_extra={"uniqueItems": True},
    )
    media_type: MediaType | None = Field(
        default=None, alias="type", description="The target's media type, e.g. text/html"
    )
    lot: Serial | None = Field(default=None, description="GS1 AI (10): a link for this lot")
    serial: Serial | None = Field(default=None, description="GS1 AI (21): a link for this item")


class LinkPublic(ApiModel):
    """A registered link and the level it applies to (GTIN, lot or serial)."""

    id: int
    gtin: str
    lot: str | None
    serial: str | None
    link_type: str
    href: str
    title: str
    hreflang: list[str]
    media_type: str | None = Field(alias="type")
    created_at: datetime
