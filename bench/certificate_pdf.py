"""How long a volunteer-hours certificate PDF takes to make (not part of pass/fail).

    .venv/bin/python -m bench.certificate_pdf [--runs 200]

Times ``mutiroes.impact.certificate_pdf.render`` (the whole PDF: fonts subset and embedded, wrapped text, the QR
code drawn from segno's matrix) against a floor measured in the same run on the same machine: a one-page reportlab
PDF with one line in a built-in font. Prints the median and p95 in ms and the ratio to the floor's median, so a
figure from a busy shared machine still says how much the certificate costs beyond reportlab's fixed overhead.
Needs no database; what a download adds beyond this is two or three indexed queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen import canvas

from mutiroes.impact import certificate_pdf

CODE = "Zk3pQ9vX_2mN8rT4wY6uA1sD5fG7hJ0kL-cV3bN9mQ2"


def floor_pdf() -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=landscape(A4), pageCompression=1)
    c.setFont("Helvetica", 12)
    c.drawString(72, 72, "Certificado")
    c.showPage()
    c.save()
    return out.getvalue()


def certificate(n: int) -> bytes:
    return certificate_pdf.render(
        certificate_pdf.CertificateText(
            name=f"Ana Araújo Gonçalves {n}",
            event_title="Limpeza da Praia do Gonzaga — mutirão de verão com a associação de moradores",
            organizer_name="Instituto Mar Limpo",
            date=dt.date(2026, 12, 2),
            place="Praia do Gonzaga, em frente ao canal 3, Santos - SP",
            hours=2.5 + n % 3,
            code=CODE,
            verification_url=f"https://mutiroes.example.org/api/certificates/{CODE}/",
        )
    )


def timings(make, runs: int) -> list[float]:
    make(0)  # warm-up: imports, font registration, first-use caches
    result = []
    for n in range(runs):
        start = time.perf_counter()
        make(n)
        result.append((time.perf_counter() - start) * 1000)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    floor = timings(lambda _n: floor_pdf(), args.runs)
    cert = timings(certificate, args.runs)
    size = len(certificate(0))

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    floor_median, cert_median = statistics.median(floor), statistics.median(cert)
    print(f"runs: {args.runs} each, PDF size {size / 1024:.1f} KiB")
    print(f"floor (one-line reportlab page): median {floor_median:.2f} ms, p95 {p95(floor):.2f} ms")
    print(f"certificate:                     median {cert_median:.2f} ms, p95 {p95(cert):.2f} ms")
    print(f"ratio to floor (medians):        {cert_median / floor_median:.1f}x")


if __name__ == "__main__":
    main()
