"""Digital Link paths of incoming requests: parsed from the raw path, so decoded exactly once."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from api.errors import ApiError, FieldError, NotFound
from core.digital_link import GtinKey, build_link, parse_gtin_key, parse_link, parse_link_lot
from core.digital_link_compression import decompress_partly, uncompressed_uri
from core.errors import DigitalLinkError
from store.models import Item
from store.queries import find_item


def request_item_key(request: Request) -> tuple[str, str]:
    """(gtin14, serial) of the Digital Link path the request targets; 422 if it is not one.

    The raw (still percent-encoded) path is parsed, because the ASGI `path` is already decoded:
    an encoded '/' (%2F) in a serial would otherwise split the path, and an encoded '%' (%25)
    would be decoded twice.
    """
    try:
        return parse_link(_raw_path(request))
    except DigitalLinkError as exc:
        raise FieldError(["path"], f"not a GS1 Digital Link for an item: {exc}") from None


class BadDigitalLink(ApiError):
    """400: the path is not a syntactically valid GS1 Digital Link (GS1-Conformant resolver
    standard: never a 200, and not 422: the request, not a field of it, is wrong)."""

    status_code = 400


def request_gtin_key(request: Request, base_url: str) -> tuple[GtinKey, str | None]:
    """The key (GTIN, variant, lot, serial) the resolver request's raw path names, and for a
    partly compressed link (/01/{gtin}/{compressed}) the uncompressed URI it stands for; 400 with
    the reason if the path is not a valid GTIN Digital Link."""
    path = _raw_path(request)
    try:
        partly = decompress_partly(path)
        if partly is not None:
            return partly.key, uncompressed_uri(base_url, partly)
        return parse_gtin_key(path), None
    except DigitalLinkError as exc:
        raise BadDigitalLink(f"not a valid GS1 Digital Link: {exc}") from None


def request_item_lot(request: Request) -> str | None:
    """The lot (AI 10) of the Digital Link path the request targets, or None (call after
    request_item_key, which refuses a path that is not a link)."""
    try:
        return parse_link_lot(_raw_path(request))
    except DigitalLinkError:
        return None


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def item_or_404(session: Session, gtin: str, serial: str, lot: str | None = None) -> Item:
    """The item (gtin14, serial), or 404 with a clear body. With a `lot`, an item that recorded
    another lot answers exactly as a missing one; an item that recorded none is found (items
    commissioned without a lot, and all items before lots were recorded)."""
    item = find_item(session, gtin, serial)
    if lot is not None and (item is None or item.lot not in (None, lot)):
        raise NotFound(f"no item with GTIN {gtin}, lot {lot!r} and serial {serial!r}")
    if item is None:
        raise NotFound(f"no item with GTIN {gtin} and serial {serial!r}")
    return item


def item_link(base_url: str, gtin: str, serial: str) -> str:
    """The public Digital Link of an item."""
    return build_link(base_url, gtin, serial)
