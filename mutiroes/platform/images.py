"""Uploaded images (event photos, covers, avatars): judged by content, re-encoded, stored under a random name.

The contract's rules: JPEG, PNG or WebP only, whatever the file name or the declared type says; over the upload
limit → 413; not an image, or another format → 415; corrupt, over 40 megapixels or a decompression bomb → 400.
Re-encoding drops every metadata block (EXIF with GPS, XMP, comments). A refused upload writes nothing to disk.

Avatars and covers are shown small: one past ``DISPLAY_MAX_PIXELS`` is scaled down to fit, cheaply — a JPEG is
decoded directly at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, Pillow's ``draft``), anything else reduced
by an integer factor (``reduce``) before the final resampling — so a phone's 48-megapixel photo becomes a 12-megapixel
cover without ever holding the full image in memory twice. Event photos keep their size (up to 40 megapixels).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import secrets
import tempfile
import warnings
from pathlib import Path

from flask import current_app, has_request_context, request
from PIL import Image, ImageOps, UnidentifiedImageError

from mutiroes.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError
from mutiroes.models import db

MAX_PIXELS = 40_000_000
DISPLAY_MAX_PIXELS = 12_000_000  # avatars and covers
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# Magic numbers of the accepted formats: a file that starts like one of them but does not decode is corrupt (400);
# anything else is not an accepted image (415).
_SIGNATURES = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))

# Pillow refuses to even open images past twice this; we refuse past once, before decoding anything.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _declared_format(head: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _read_limited(stream, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"A imagem excede o limite de {limit // (1024 * 1024)} MB.")
    return data


def _fitting_box(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest box of the image's proportions within ``max_pixels``."""
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _decode(data: bytes, field: str, max_pixels: int | None = None) -> tuple[Image.Image, str]:
    declared = _declared_format(data[:16])
    if declared is None:
        other = None
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = Image.open(io.BytesIO(data)).format  # identify only; nothing is decoded
        if other:
            raise UnsupportedMediaType(f"Formato de imagem não suportado ({other}). Envie JPEG, PNG ou WebP.")
        raise UnsupportedMediaType("O arquivo enviado não é uma imagem. Envie JPEG, PNG ou WebP.")
    corrupt = ValidationError({field: ["A imagem está corrompida ou não pôde ser lida."]})
    too_big = ValidationError({field: [f"A imagem excede {MAX_PIXELS // 1_000_000} megapixels."]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[declared])
            if image.width * image.height > MAX_PIXELS:
                raise too_big
            if max_pixels is not None and image.width * image.height > max_pixels:
                # draft() (JPEG) and reduce() first, then one resampling step: cheap in time and memory
                image.thumbnail(_fitting_box(image.width, image.height, max_pixels), reducing_gap=2.0)
            else:
                image.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_big from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise corrupt from exc
    return image, declared


def _encode(image: Image.Image, image_format: str) -> bytes:
    image = ImageOps.exif_transpose(image)  # keep the orientation the camera meant before EXIF goes away
    out = io.BytesIO()
    if image_format == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True)
    elif image_format == "PNG":
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "WEBP", quality=85)
    return out.getvalue()


def media_root() -> Path:
    return Path(current_app.config["MUTIROES"].media_root)


def store(upload, *, folder: str, field: str, max_pixels: int | None = None) -> str:
    """Validate and re-encode an uploaded image, write it atomically; returns its path relative to the media root.

    ``max_pixels``: an image larger than this is scaled down to fit (avatars and covers)."""
    settings = current_app.config["MUTIROES"]
    data = _read_limited(upload.stream, settings.max_upload_bytes)
    if not data:
        raise ValidationError({field: ["O arquivo enviado está vazio."]})
    image, image_format = _decode(data, field, max_pixels)
    encoded = _encode(image, image_format)
    relative = f"{folder.strip('/')}/{secrets.token_hex(16)}{FORMATS[image_format]}"
    target = media_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return relative


def commit_or_discard(stored: str) -> None:
    """Commit the rows pointing at a just-stored image; if the commit fails, the file must not stay behind."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        delete(stored)
        raise


def delete(relative: str | None) -> None:
    """Remove a stored image (missing files are fine: deletion is idempotent)."""
    if not relative:
        return
    root = media_root().resolve()
    path = (root / relative).resolve()
    if root in path.parents:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def absolute_url(path: str | None) -> str | None:
    """The client-facing absolute URL of a stored image (``None`` when there is none)."""
    if not path:
        return None
    base = current_app.config["MUTIROES"].media_url
    relative = f"{base.rstrip('/')}/{path.lstrip('/')}"
    if relative.startswith(("http://", "https://")) or not has_request_context():
        return relative
    return f"{request.host_url.rstrip('/')}{relative}"
