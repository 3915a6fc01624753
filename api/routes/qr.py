"""QR codes that encode an item's GS1 Digital Link."""

from __future__ import annotations

import io

import qrcode
from fastapi import APIRouter, Depends, Request, Response
from qrcode.constants import ERROR_CORRECT_M

from api.deps import SessionDep, SettingsDep
from api.links import item_link, item_or_404, request_item_key
from api.openapi_doc import errors
from api.rate_limit import Bucket, per_client

router = APIRouter(prefix="/qr", tags=["resolver"], dependencies=[Depends(per_client(Bucket.QR))])


def qr_png(text: str) -> bytes:
    """A PNG of a QR code holding exactly `text` (error correction M, 4-module quiet zone)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


@router.get(
    "/01/{gtin}/21/{serial:path}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The QR code as PNG",
        },
        **errors(404),
    },
)
def item_qr(
    gtin: str, serial: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """A PNG QR code encoding the item's Digital Link (PUBLIC_BASE_URL/01/{gtin14}/21/{serial})."""
    gtin14, serial_value = request_item_key(request)
    item_or_404(session, gtin14, serial_value)
    link = item_link(settings.base_url, gtin14, serial_value)
    return Response(
        qr_png(link),
        media_type="image/png",
        headers={"Cache-Control": "public, max-age=86400", "X-Digital-Link": link},
    )
