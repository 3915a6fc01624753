"""The demo brand's content is what the API accepts: English (the default) and Simplified
Chinese, each with the drawn image, which the API's image rules take."""

from __future__ import annotations

import base64

from api.content_image import safe_image
from api.content_language import lang_tag
from api.schemas.product_content import ContentPut
from chaintrace.demo_content import content_bodies


def test_the_demo_content_passes_the_apis_rules() -> None:
    bodies = content_bodies()
    assert [lang_tag(lang) for lang in bodies] == ["en", "zh-Hans"]
    for body in bodies.values():
        content = ContentPut.model_validate(body)
        assert content.image is not None and content.contact is not None
        kept = safe_image(base64.b64decode(content.image.data), content.image.media_type)
        assert (kept.width, kept.height) == (240, 240)
    assert ContentPut.model_validate(bodies["en"]).is_default
    assert bodies["zh-Hans"]["name"] == "疫苗瓶，10剂"  # noqa: RUF001
