"""The DRF page envelope: ``{"count", "next", "previous", "results"}`` with absolute URLs.

Services return ``(count, rows)`` for a page (``PaginationArgsSchema`` has already clamped the page size); the web
layer wraps them here, with links built from the client-facing host and scheme of the current request.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request

from mutiroes.errors import NotFound


def page_url(page: int | None) -> str | None:
    """The current request's URL with another page number."""
    if page is None:
        return None
    args = request.args.to_dict(flat=False)
    if page == 1:
        args.pop("page", None)
    else:
        args["page"] = [str(page)]
    query = urlencode(args, doseq=True)
    return f"{request.base_url}?{query}" if query else request.base_url


def envelope(count_and_rows: tuple[int, list], *, page: int, page_size: int) -> dict:
    """The page answer; a page past the end is 404 "Página inválida." as DRF says."""
    count, rows = count_and_rows
    last_page = max(1, -(-count // page_size))
    if page > last_page:
        raise NotFound("Página inválida.")
    return {
        "count": count,
        "next": page_url(page + 1) if page < last_page else None,
        "previous": page_url(page - 1) if page > 1 else None,
        "results": rows,
    }
