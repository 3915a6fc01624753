"""A brand's product image is bounded, decoded, stripped of metadata, scaled and re-encoded;
hostile uploads (wrong type, huge, truncated, bombs, disguised) are refused with a reason."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from api.content_image import (
    OUTPUT_MAX_BYTES,
    OUTPUT_MAX_SIDE,
    SOURCE_MAX_PIXELS,
    UPLOAD_MAX_BYTES,
    ContentImageError,
    safe_image,
)

SECRET = "SecretCam-4711"


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def gradient(width: int, height: int) -> Image.Image:
    """A photo-like image that compresses well (so a large one fits the upload bound)."""
    return Image.linear_gradient("L").resize((width, height)).convert("RGB")


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = SECRET
    exif[ExifTags.Base.Orientation] = 6  # shown rotated 90 degrees clockwise
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    return encoded(gradient(300, 200), "JPEG", exif=exif, quality=90)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (1-bit grey) and whose data stops early."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 10_000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def test_a_jpeg_comes_back_upright_without_exif_or_gps() -> None:
    upload = jpeg_with_gps()
    with Image.open(io.BytesIO(upload)) as source:  # the upload does carry them
        assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert SECRET.encode() in upload
    kept = safe_image(upload, "image/jpeg")
    assert kept.media_type == "image/webp"
    assert SECRET.encode() not in kept.data and b"Exif" not in kept.data
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == "WEBP"
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert len(image.getexif()) == 0
        assert image.size == (200, 300) == (kept.width, kept.height)  # orientation applied


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_each_accepted_type_is_scaled_into_the_bounds(media_type: str) -> None:
    fmt = media_type.split("/")[1].upper()
    upload = encoded(gradient(2400, 1200), fmt)
    assert len(upload) <= UPLOAD_MAX_BYTES
    kept = safe_image(upload, media_type)
    assert (kept.width, kept.height) == (OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE // 2)
    assert len(kept.data) <= OUTPUT_MAX_BYTES


def test_a_noisy_image_is_encoded_smaller_until_it_fits() -> None:
    noise = Image.effect_noise((700, 700), 120).convert("RGB")
    upload = encoded(noise, "JPEG", quality=30)
    assert len(upload) <= UPLOAD_MAX_BYTES
    kept = safe_image(upload, "image/jpeg")
    assert len(kept.data) <= OUTPUT_MAX_BYTES
    assert max(kept.width, kept.height) < OUTPUT_MAX_SIDE  # no quality alone made it fit


def test_transparency_is_kept() -> None:
    logo = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (16, 16, 48, 48))
    kept = safe_image(encoded(logo, "PNG"), "image/png")
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.mode == "RGBA"
        corner, middle = image.getpixel((0, 0)), image.getpixel((32, 32))
        assert isinstance(corner, tuple) and isinstance(middle, tuple)
        assert corner[3] == 0 and middle[3] == 255


def _gif() -> bytes:
    return encoded(Image.new("P", (10, 10)), "GIF")


@pytest.mark.parametrize(
    ("upload", "media_type", "reason"),
    [
        pytest.param(_gif(), "image/gif", "must be one of", id="gif-declared"),
        pytest.param(_gif(), "image/png", "not a readable", id="gif-as-png"),
        pytest.param(b"<svg onload='alert(1)'/>", "image/svg+xml", "must be one of", id="svg"),
        pytest.param(
            b"<html><script>alert(1)</script></html>", "image/png", "not a readable", id="html"
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n", "image/png", "not a readable", id="signature-only"),
        pytest.param(
            encoded(gradient(64, 64), "PNG"), "image/jpeg", "not a readable", id="png-as-jpeg"
        ),
        pytest.param(
            encoded(gradient(300, 300), "JPEG")[:400],
            "image/jpeg",
            "cannot be decoded",
            id="truncated-jpeg",
        ),
        pytest.param(
            encoded(gradient(300, 300), "PNG")[:200],
            "image/png",
            "cannot be decoded",
            id="truncated-png",
        ),
        pytest.param(b"\x00" * (UPLOAD_MAX_BYTES + 1), "image/png", "at most", id="huge"),
        pytest.param(
            png_header_claiming(100_000, 100_000), "image/png", "pixels", id="header-bomb"
        ),
        pytest.param(
            png_header_claiming(5000, 5000), "image/png", "pixels", id="header-over-bound"
        ),
        pytest.param(
            png_header_claiming(3000, 3000), "image/png", "cannot be decoded", id="short-data"
        ),
        pytest.param(
            encoded(Image.new("1", (5000, 5000)), "PNG"), "image/png", "pixels", id="zlib-bomb"
        ),
        pytest.param(b"", "image/webp", "not a readable", id="empty"),
    ],
)
def test_hostile_uploads_are_refused(upload: bytes, media_type: str, reason: str) -> None:
    with pytest.raises(ContentImageError, match=reason):
        safe_image(upload, media_type)


def test_the_zlib_bomb_is_small_and_over_the_pixel_bound() -> None:
    # Guards the case above: it must be a small upload whose pixels alone exceed the bound.
    bomb = encoded(Image.new("1", (5000, 5000)), "PNG")
    assert len(bomb) < 64 * 1024 and SOURCE_MAX_PIXELS < 5000 * 5000
