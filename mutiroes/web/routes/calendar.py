"""Each person's calendar feed over HTTP: the secret URL, and the feed itself for calendar apps."""

from __future__ import annotations

from flask import Response, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from mutiroes.events import calendar, schemas
from mutiroes.web.auth import auth_required, current_user

blp = Blueprint("calendar", __name__, url_prefix="/api", description="Calendário pessoal (iCalendar) de cada pessoa.")


def _feed_url(token: str) -> str:
    # client-facing host and scheme, as the page links; the feed's own path has no trailing slash
    return url_for("calendar.feed", token=token, _external=True).rstrip("/")


@blp.route("/users/calendar/")
class CalendarUrl(MethodView):
    @auth_required
    @blp.response(200, schemas.CalendarFeedSchema)
    def get(self):
        """The caller's secret calendar feed URL (made on first use): subscribe to it in any calendar app."""
        return {"url": _feed_url(calendar.get_token(user=current_user))}

    @auth_required
    @blp.response(200, schemas.CalendarFeedSchema)
    def post(self):
        """Make a new feed URL; the previous one stops working at once."""
        return {"url": _feed_url(calendar.rotate_token(user=current_user))}


@blp.route("/calendar/<string:token>.ics/", methods=["GET"])  # answers without the slash too
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="text/calendar",
    description="One VEVENT per event (stable UID, SEQUENCE, STATUS), METHOD:PUBLISH, times in UTC.",
)
def feed(token):
    """The feed of whoever the token belongs to: their confirmed, pending and waitlisted events from 30 days ago on.
    No login: the URL is the secret. Unknown token → 404."""
    response = Response(calendar.feed(token=token), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, no-store"
    return response
