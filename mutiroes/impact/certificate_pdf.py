"""The one-page PDF of a volunteer-hours certificate (pt-BR): reportlab draws it, segno makes its QR code.

Nothing here reads the database or the request: ``render`` turns a ``CertificateText`` into PDF bytes, so the
benchmark (bench/certificate_pdf.py) times exactly what a download costs beyond its queries.

The text is set in Bitstream Vera, which ships inside reportlab (``reportlab/fonts``) and is embedded (subset) in
every PDF: the certificate looks the same in every viewer, needs no system font, and its text reads back (it
covers Portuguese; a character Vera lacks would print as an empty box). The QR code is drawn as vector squares from
segno's module matrix, so it stays sharp at any zoom and needs no image library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
from xml.sax.saxutils import escape

import segno
from reportlab.lib.colors import HexColor, white
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph

from mutiroes.timeutil import long_date

GREEN = HexColor("#2E7D32")  # the badges' default colour
INK = HexColor("#212121")
MUTED = HexColor("#616161")
PAGE = landscape(A4)
MARGIN = 2 * cm
QR_SIZE = 4.2 * cm


@dataclasses.dataclass(frozen=True)
class CertificateText:
    """What a certificate says, already in the server's time zone."""

    name: str
    event_title: str
    organizer_name: str
    date: dt.date
    place: str
    hours: float
    code: str
    verification_url: str


def hours_text(hours: float) -> str:
    """``1 hora``, ``3 horas``, ``2,5 horas``: at most two decimals, a decimal comma."""
    number = f"{hours:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{number} hora" if number == "1" else f"{number} horas"


@functools.cache
def _fonts() -> tuple[str, str]:
    # registered on first use, not at import: reading font files is work an import should not do
    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    pdfmetrics.registerFont(TTFont("Vera-Bold", "VeraBd.ttf"))
    return "Vera", "Vera-Bold"


def _paragraph(c: canvas.Canvas, markup: str, *, y: float, size: float, font: str, color=INK) -> float:
    """Draw centred, wrapped text whose top is at ``y``; returns the y below it."""
    style = ParagraphStyle("p", fontName=font, fontSize=size, leading=size * 1.3, alignment=TA_CENTER, textColor=color)
    paragraph = Paragraph(markup, style)
    width = PAGE[0] - 2 * MARGIN - 2 * cm
    _w, height = paragraph.wrap(width, PAGE[1])
    paragraph.drawOn(c, (PAGE[0] - width) / 2, y - height)
    return y - height


def _qr(c: canvas.Canvas, data: str, *, x: float, y: float, size: float) -> None:
    """The QR code of ``data`` with its 4-module quiet zone, lower-left corner at (x, y)."""
    matrix = segno.make(data, error="m").matrix
    border = 4
    modules = len(matrix) + 2 * border
    step = size / modules
    c.setFillColor(white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(INK)
    for row_number, row in enumerate(matrix):
        top = y + size - (row_number + border + 1) * step
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            run = column
            while run < len(row) and row[run]:
                run += 1
            # one rectangle per horizontal run of dark modules, slightly overlapping so no hairline shows between
            c.rect(x + (column + border) * step, top, (run - column) * step + 0.01, step + 0.01, stroke=0, fill=1)
            column = run


def render(text: CertificateText) -> bytes:
    """The certificate as a one-page A4 landscape PDF."""
    regular, bold = _fonts()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=PAGE, pageCompression=1)
    c.setTitle(f"Certificado de voluntariado — {text.event_title}")
    c.setAuthor("Mutirões")
    c.setSubject(f"Código de verificação {text.code}")
    width, height = PAGE

    c.setStrokeColor(GREEN)
    c.setLineWidth(3)
    c.rect(MARGIN / 2, MARGIN / 2, width - MARGIN, height - MARGIN, stroke=1, fill=0)

    y = height - MARGIN - 0.8 * cm
    y = _paragraph(c, "CERTIFICADO DE VOLUNTARIADO", y=y, size=28, font=bold, color=GREEN) - 0.9 * cm
    y = _paragraph(c, "Certificamos que", y=y, size=14, font=regular, color=MUTED) - 0.4 * cm
    y = _paragraph(c, escape(text.name), y=y, size=26, font=bold) - 0.5 * cm
    y = _paragraph(c, "participou como voluntário(a) do mutirão", y=y, size=14, font=regular, color=MUTED) - 0.4 * cm
    y = _paragraph(c, escape(text.event_title), y=y, size=20, font=bold) - 0.5 * cm
    details = f"organizado por {escape(text.organizer_name)}, em {long_date(text.date)}"
    if text.place:
        details += f", em {escape(text.place)}"
    y = _paragraph(c, details + ",", y=y, size=13, font=regular) - 0.2 * cm
    hours = f"com <font name='{bold}'>{hours_text(text.hours)}</font> de voluntariado verificadas por check-in."
    _paragraph(c, hours, y=y, size=13, font=regular)

    qr_x, qr_y = width - MARGIN - QR_SIZE, MARGIN
    _qr(c, text.verification_url, x=qr_x, y=qr_y, size=QR_SIZE)
    c.setFillColor(MUTED)
    c.setFont(regular, 9)
    c.drawString(MARGIN, MARGIN + 1.4 * cm, "Código de verificação:")
    c.setFont(bold, 10)
    c.drawString(MARGIN, MARGIN + 0.9 * cm, text.code)
    c.setFont(regular, 8)
    c.drawString(MARGIN, MARGIN + 0.35 * cm, f"Confira em {text.verification_url}")
    c.drawRightString(qr_x - 0.3 * cm, MARGIN + 0.35 * cm, "Mutirões — ação ambiental comunitária")

    c.showPage()
    c.save()
    return out.getvalue()
