"""The demo brand's content for its product, in English and Simplified Chinese, with a drawn
product image: what the item page shows beside the verdict."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image, ImageDraw

CONTACT = {
    "url": "https://acme-cold-foods.example/support",
    "email": "care@acme-cold-foods.example",
    "phone": "+4940123456789",
}
CONTENT: dict[str, dict[str, Any]] = {
    "en": {
        "name": "Vaccine vial, 10 doses",
        "description": (
            "Multi-dose vial, 5 ml. Keep refrigerated between 2 and 8 °C; do not freeze.\n"
            "Once opened, use within 6 hours."
        ),
        "isDefault": True,
    },
    "zh-Hans": {  # Chinese punctuation on purpose (full-width commas)
        "name": "疫苗瓶，10剂",  # noqa: RUF001
        "description": "多剂量瓶，5毫升。请在2至8°C冷藏，切勿冷冻。\n开启后请在6小时内使用。",  # noqa: RUF001
    },
}


def vial_png() -> str:
    """A small drawing of a vial, as base64 PNG (the API re-encodes it like any upload)."""
    image = Image.new("RGB", (240, 240), (238, 244, 250))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((88, 30, 152, 62), radius=6, fill=(60, 90, 160))  # cap
    draw.rectangle((98, 62, 142, 78), fill=(190, 200, 210))  # neck
    draw.rounded_rectangle(
        (78, 78, 162, 214), radius=14, fill=(215, 230, 240), outline=(90, 110, 130), width=3
    )
    draw.rectangle((84, 130, 156, 208), fill=(170, 205, 235))  # liquid
    draw.rectangle((84, 104, 156, 128), fill=(255, 255, 255))  # label
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def content_bodies() -> dict[str, dict[str, Any]]:
    """PUT /products/{gtin}/content/{lang} bodies, per language."""
    image = {"mediaType": "image/png", "data": vial_png()}
    return {lang: {**body, "image": image, "contact": CONTACT} for lang, body in CONTENT.items()}
