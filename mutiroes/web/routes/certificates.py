"""Volunteer-hours certificates over HTTP: the caller's list and PDFs, and the public check by code."""

from __future__ import annotations

from flask import Response, url_for
from flask_smorest import Blueprint

from mutiroes.impact import certificates, schemas
from mutiroes.web.auth import auth_required, current_user

blp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api",
    description="Certificados de horas de voluntariado, verificáveis por código sem login.",
)


def _pdf_url(participation_id: int) -> str:
    # client-facing host and scheme; the PDF's own path has no trailing slash
    return url_for("certificates.pdf", participation_id=participation_id, _external=True).rstrip("/")


def _verification_url(code: str) -> str:
    return url_for("certificates.check", code=code, _external=True)


@blp.route("/users/certificates/", methods=["GET"])
@auth_required
@blp.response(200, schemas.CertificateSchema(many=True))
def get_all():
    """The caller's certificates (array), the latest event first: one per verified participation (checked in, with
    the verified hours of the event's report) of a verified account. Listing one makes its code."""
    return certificates.get_all(user=current_user, pdf_url=_pdf_url)


@blp.route("/users/certificates/<id:participation_id>.pdf/", methods=["GET"])  # answers without the slash too
@auth_required
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="One A4 page in pt-BR: name, event, organizer, date, place, verified hours, the verification code "
    "and a QR code of the verification URL.",
)
def pdf(participation_id):
    """The certificate of the caller's own participation; someone else's → 403; a participation without a
    certificate (not verified, no hours yet) → 404."""
    body = certificates.pdf(participation_id=participation_id, user=current_user, verification_url=_verification_url)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="certificado-{participation_id}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/certificates/<string:code>/", methods=["GET"])
@blp.response(200, schemas.CertificateCheckSchema)
def check(code):
    """What a certificate states, for anyone holding its code (no login): the URL in its QR code. Unknown code →
    404; `valid` is false once the participation stops being verified."""
    return certificates.verify(code=code)
