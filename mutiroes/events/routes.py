"""Events over HTTP: parse, call one service function, answer."""

from __future__ import annotations

from flask_smorest import Blueprint

from mutiroes.events import schemas, service

blp = Blueprint("events", __name__, url_prefix="/api/events", description="Eventos (mutirões).")


@blp.route("/categories/", methods=["GET"])
@blp.response(200, schemas.CategorySchema(many=True))
def categories():
    """Every event category (array, not paginated)."""
    return service.get_all_categories()
