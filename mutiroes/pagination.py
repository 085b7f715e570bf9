"""The DRF page envelope: ``{"count", "next", "previous", "results"}`` with absolute URLs."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request
from sqlalchemy import Select, func, select

from mutiroes.errors import NotFound
from mutiroes.extensions import db

MAX_PAGE_SIZE = 100


def clamp_page_size(page_size: int | None) -> int:
    if not page_size or page_size < 1:
        return 20
    return min(page_size, MAX_PAGE_SIZE)


def page_url(page: int | None) -> str | None:
    """The current request's URL with another page number, built from the client-facing host and scheme."""
    if page is None:
        return None
    args = request.args.to_dict(flat=False)
    if page == 1:
        args.pop("page", None)
    else:
        args["page"] = [str(page)]
    query = urlencode(args, doseq=True)
    return f"{request.base_url}?{query}" if query else request.base_url


def envelope(*, count: int, page: int, page_size: int, results: list) -> dict:
    last_page = max(1, -(-count // page_size))
    if page > last_page:
        raise NotFound("Página inválida.")
    return {
        "count": count,
        "next": page_url(page + 1) if page < last_page else None,
        "previous": page_url(page - 1) if page > 1 else None,
        "results": results,
    }


def paginate(statement: Select, *, page: int, page_size: int) -> tuple[int, list]:
    """Count and one page of ``statement``'s rows (two SQL statements, whatever the page size).

    ``page_size`` must already be clamped; ``envelope`` refuses a page past the end.
    """
    count = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = db.session.scalars(statement.limit(page_size).offset((page - 1) * page_size)).all()
    return count, rows
