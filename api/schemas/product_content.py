"""A brand's content for a product in one language: what it sends and what it reads back."""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from api.content_image import ACCEPTED, UPLOAD_MAX_BYTES
from api.schemas.common import ApiModel
from api.schemas.links import _rule
from core import link_rules
from store.models.content import (
    CONTACT_EMAIL_MAX_LEN,
    CONTACT_URL_MAX_LEN,
    DESCRIPTION_MAX_LEN,
    NAME_MAX_LEN,
)

# Plain text people read, line breaks allowed: no other control character, no zero-width or
# bidirectional-override character (which could make text read other than it is stored).
_NOT_TEXT = r"\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
DESCRIPTION_PATTERN = rf"^[^{_NOT_TEXT}]*$"
_DESCRIPTION = re.compile(DESCRIPTION_PATTERN)
_SURROGATE = re.compile("[\ud800-\udfff]")
# An ASCII address: RFC 5322 dot-atom local part without the characters a mailto: URI gives a
# meaning to (? & = % # /: a query would add hidden recipients), DNS host name with a dot.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATOM = r"[A-Za-z0-9!$'*+^_`{|}~-]+"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$"
_EMAIL = re.compile(EMAIL_PATTERN)
# E.164: "+", country code, subscriber number; 15 digits at most, no spaces.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
IMAGE_DATA_MAX_LEN = 4 * math.ceil(UPLOAD_MAX_BYTES / 3)


def _description(value: str) -> str:
    if not _DESCRIPTION.fullmatch(value) or _SURROGATE.search(value):
        raise ValueError(
            "must be plain text: line breaks allowed, no other control, zero-width or "
            "bidirectional-override characters"
        )
    return value


def _email(value: str) -> str:
    local = value.partition("@")[0]
    if not _EMAIL.fullmatch(value) or len(local) > 64:
        raise ValueError("must be an email address such as care@acme.example (ASCII)")
    return value


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be the image's bytes in base64 (RFC 4648, with padding)") from None
    return value


Description = Annotated[
    str,
    AfterValidator(_description),
    Field(
        max_length=DESCRIPTION_MAX_LEN,
        description="Plain text (never HTML: the page shows it as text), line breaks allowed",
        json_schema_extra={"pattern": DESCRIPTION_PATTERN},
    ),
]
ContentName = Annotated[
    str,
    AfterValidator(_rule(link_rules.title)),
    Field(
        min_length=1,
        max_length=NAME_MAX_LEN,
        description="The product's name in this language",
        json_schema_extra={"pattern": link_rules.TITLE_PATTERN},
    ),
]
ContactUrl = Annotated[
    str,
    AfterValidator(_rule(link_rules.href)),
    Field(
        max_length=CONTACT_URL_MAX_LEN,
        description="An https:// URL (no user name or password)",
        json_schema_extra={"pattern": link_rules.HREF_PATTERN},
    ),
]
Email = Annotated[
    str,
    AfterValidator(_email),
    Field(max_length=CONTACT_EMAIL_MAX_LEN, json_schema_extra={"pattern": EMAIL_PATTERN}),
]
Phone = Annotated[
    str,
    Field(
        pattern=PHONE_PATTERN,
        description="E.164, e.g. +441234567890 (no spaces)",
    ),
]
ImageMediaType = Literal["image/png", "image/jpeg", "image/webp"]
assert set(ImageMediaType.__args__) == set(ACCEPTED)  # type: ignore[attr-defined]


class Contact(ApiModel):
    """How a shopper reaches the brand about this product; each way optional."""

    url: ContactUrl | None = None
    email: Email | None = None
    phone: Phone | None = None


class ContentImageIn(ApiModel):
    """A PNG, JPEG or WebP image of at most 256 KB (4096 x 4096 pixels at most); the platform
    keeps a re-encoded WebP of at most 640 px a side and 60 KB, without any metadata."""

    media_type: ImageMediaType
    data: Annotated[
        str,
        AfterValidator(_base64),
        Field(
            max_length=IMAGE_DATA_MAX_LEN,
            description="The image's bytes in base64",
            json_schema_extra={"pattern": BASE64_PATTERN},
        ),
    ]


class ContentPut(ApiModel):
    """The product's content in the path's language; replaces what that language had."""

    name: ContentName
    description: Description | None = None
    image: ContentImageIn | None = None
    contact: Contact | None = None
    is_default: bool = Field(
        default=False,
        description="Make this the product's default language (shown when none of a viewer's "
        "languages has content). The product's first content is its default until another is "
        "made default; deleting the default makes the oldest remaining language the default.",
    )


class ContentImageOut(ApiModel):
    """The image as stored and shown."""

    media_type: str
    width: int
    height: int
    size: int = Field(description="Bytes")
    data_uri: str = Field(description="data: URI the item page inlines")


class ContentPublic(ApiModel):
    """A product's content in one language, as its brand reads it back."""

    gtin: str
    lang: str = Field(description="Normalised BCP 47 tag, e.g. en, en-GB, zh-Hans")
    is_default: bool
    name: str
    description: str | None
    image: ContentImageOut | None
    contact: Contact | None
    updated_at: datetime
    updated_by: int = Field(description="The principal who wrote it")
