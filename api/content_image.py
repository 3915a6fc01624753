"""A brand's product image, made safe to inline in the item page: PNG, JPEG or WebP only,
bounded before decoding (bytes, then pixels: a decompression bomb is refused from its header),
decoded by Pillow, turned upright, scaled down and re-encoded as WebP from its pixels alone, so
nothing of the upload but its picture is kept (no EXIF, GPS, ICC, text chunks or trailing
bytes) and it fits a data: URI."""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from store.product_content import ContentImage

UPLOAD_MAX_BYTES = 256 * 1024
# Pixels the upload may declare (its header says so before any decoding): 4096 x 4096.
SOURCE_MAX_PIXELS = 4096 * 4096
OUTPUT_MAX_SIDE = 640
OUTPUT_MAX_BYTES = 60 * 1024
OUTPUT_TYPE = "image/webp"
# Media type a brand declares -> the one Pillow decoder tried for it.
ACCEPTED = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_QUALITIES = (80, 60, 40)


class ContentImageError(ValueError):
    """An upload that is not a PNG, JPEG or WebP image within the bounds."""


def safe_image(data: bytes, media_type: str) -> ContentImage:
    """The upload re-encoded within OUTPUT_MAX_SIDE and OUTPUT_MAX_BYTES, or ContentImageError."""
    decoder = ACCEPTED.get(media_type)
    if decoder is None:
        raise ContentImageError(f"the image must be one of {', '.join(ACCEPTED)}")
    if len(data) > UPLOAD_MAX_BYTES:
        raise ContentImageError(f"the image must be at most {UPLOAD_MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = _decoded(data, decoder)
    except ContentImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ContentImageError(f"the image must have at most {SOURCE_MAX_PIXELS} pixels") from None
    except UnidentifiedImageError:
        raise ContentImageError(f"the image is not a readable {media_type} image") from None
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        MemoryError,
        struct.error,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        # Pillow's words for truncated or corrupt data (OSError mostly) and malformed EXIF.
        raise ContentImageError(f"the image cannot be decoded ({type(exc).__name__})") from None
    return _encoded(picture)


def _decoded(data: bytes, decoder: str) -> Image.Image:
    """The first frame's pixels, upright, in RGB or RGBA, at most OUTPUT_MAX_SIDE a side."""
    with Image.open(io.BytesIO(data), formats=[decoder]) as source:
        width, height = source.size
        if width < 1 or height < 1 or width * height > SOURCE_MAX_PIXELS:
            raise ContentImageError(
                f"the image must have at most {SOURCE_MAX_PIXELS} pixels; it has {width}x{height}"
            )
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers the output size.
        source.draft("RGB", (OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE))
        source.load()
        upright = ImageOps.exif_transpose(source)
        alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        picture = upright.convert("RGBA" if alpha else "RGB")
    picture.thumbnail((OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: no info, EXIF or profile of the upload travels on.
    return Image.frombytes(picture.mode, picture.size, picture.tobytes())


def _encoded(picture: Image.Image) -> ContentImage:
    """WebP within OUTPUT_MAX_BYTES: lower quality first, then fewer pixels (scaled by what the
    lowest quality missed by, so a noisy picture costs a few encodings, not dozens)."""
    while True:
        for quality in _QUALITIES:
            out = io.BytesIO()
            picture.save(out, "WEBP", quality=quality, method=4)
            if out.tell() <= OUTPUT_MAX_BYTES:
                return ContentImage(out.getvalue(), OUTPUT_TYPE, *picture.size)
        width, height = picture.size
        if max(width, height) <= 16:
            raise ContentImageError("the image cannot be encoded within the size bound")
        scale = min(0.9, 0.95 * (OUTPUT_MAX_BYTES / out.tell()) ** 0.5)
        picture = picture.resize((max(1, int(width * scale)), max(1, int(height * scale))))
