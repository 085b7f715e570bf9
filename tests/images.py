"""Images made in the tests with Pillow: valid ones, one with GPS EXIF, corrupt ones and decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


def png_bytes(size=(64, 48), color=(30, 120, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def webp_bytes(size=(40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, "WEBP")
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A JPEG whose EXIF holds a camera model and GPS coordinates (Praia de Copacabana)."""
    image = Image.new("RGB", (80, 60), (0, 90, 200))
    exif = Image.Exif()
    exif[0x0110] = "CameraDeTeste"  # Model
    exif.get_ifd(GPS_IFD).update(
        {1: "S", 2: (22.0, 58.0, 14.0), 3: "W", 4: (43.0, 10.0, 56.0)}  # GPSLatitudeRef .. GPSLongitude
    )
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def truncated_png() -> bytes:
    data = png_bytes((200, 200))
    return data[: len(data) // 2]


def png_bomb(width=50_000, height=50_000) -> bytes:
    """A tiny PNG whose header claims a huge canvas (2.5 gigapixels): the decoder must never allocate it."""
    data = bytearray(png_bytes((1, 1)))
    ihdr_start = 8 + 4 + 4  # signature, chunk length, chunk type
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr_start - 4 : ihdr_start + 13])) & 0xFFFFFFFF
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


def png_over_40_megapixels() -> bytes:
    out = io.BytesIO()
    Image.new("1", (7_000, 6_000)).save(out, "PNG")  # 42 MP, a few KB on disk
    return out.getvalue()


def multipart(field: str, data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    """Encode one file field by hand (werkzeug's test encoder leaks a temp file on large bodies)."""
    boundary = "----mutiroes-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def large_jpeg(size=(4800, 3200)) -> bytes:
    """A phone-camera-sized JPEG (15.4 megapixels by default), plain so that it stays small on the wire."""
    out = io.BytesIO()
    Image.new("RGB", size, (20, 110, 70)).save(out, "JPEG", quality=50)
    return out.getvalue()


def large_png(size=(4200, 3000)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 160, 30)).save(out, "PNG")
    return out.getvalue()
