"""GET /static/verify-bundle.js: the item page's verifier script (api/verifier_script.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.verifier_script import SCRIPT, SCRIPT_PATH

router = APIRouter(include_in_schema=False)


@router.get(SCRIPT_PATH)
def verifier_script() -> Response:
    """The in-page verifier (public and cacheable: the page pins its hash)."""
    return Response(
        SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )
