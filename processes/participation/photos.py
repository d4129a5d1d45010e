"""Photos of violation reports: the type sniffed from the bytes (never the
file name or the declared type), a size limit, and a re-encoding with Pillow
that keeps the pixels only — EXIF (GPS, camera, time) and every other
metadata block are left behind."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from onemap.core.errors import invalid

# magic numbers of the image types taken, and the type they are re-encoded to
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))
_WEBP = (b"RIFF", b"WEBP")
MAX_SIDE_PX = 2560  # larger photos are scaled down: enough to see a building site
MAX_PIXELS = 60_000_000  # a decompression bomb is refused before it is decoded


@dataclass(frozen=True)
class Photo:
    media_type: str
    content: bytes


def sniff(content: bytes) -> str | None:
    """The image format by its leading bytes: JPEG, PNG, WEBP, or None."""
    for signature, kind in _SIGNATURES:
        if content.startswith(signature):
            return kind
    if content[:4] == _WEBP[0] and content[8:12] == _WEBP[1]:
        return "WEBP"
    return None


def clean_photo(field: str, content: bytes, max_bytes: int) -> Photo:
    """The photo re-encoded without metadata, or a bilingual error naming
    `field`: 413 over `max_bytes`, 415 not an image of a taken type, 422 an
    image that does not decode."""
    if len(content) > max_bytes:
        limit_mb = max_bytes / 1024 / 1024
        raise invalid(field, f"照片过大：{len(content) / 1024 / 1024:.1f} MB，每张不超过 {limit_mb:g} MB",
                      f"The photo is too large: {len(content) / 1024 / 1024:.1f} MB, at most {limit_mb:g} MB each",
                      status=413)
    kind = sniff(content)
    if kind is None:
        raise invalid(field, "不是图片：只接受 JPEG、PNG 或 WebP 照片",
                      "Not an image: only JPEG, PNG or WebP photos are accepted", status=415)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[kind]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ValueError("too many pixels")
                image.load()
                # turned as the camera held it, since the orientation tag goes
                upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise invalid(field, f"图片无法解码（文件损坏或像素过多）：{exc}",
                      f"The image cannot be decoded (damaged, or too many pixels): {exc}", status=422) from exc
    upright.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
    # a new image of the pixels alone: whatever the original carried (EXIF,
    # XMP, ICC, comments, text chunks) stays behind
    converted = upright.convert("RGBA" if kind == "PNG" else "RGB")
    pixels = Image.frombytes(converted.mode, converted.size, converted.tobytes())
    out = io.BytesIO()
    if kind == "PNG":
        pixels.save(out, "PNG", optimize=True)
        return Photo("image/png", out.getvalue())
    pixels.save(out, "JPEG", quality=85)
    return Photo("image/jpeg", out.getvalue())
