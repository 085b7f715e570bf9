"""Moderation over HTTP: reporting comments and photos, the moderators' queue and their decisions."""

from __future__ import annotations

from flask_smorest import Blueprint

from mutiroes.content import moderation, schemas
from mutiroes.events import access
from mutiroes.web.auth import allowed, auth_required, current_user
from mutiroes.web.pagination import envelope

blp = Blueprint("moderation", __name__, url_prefix="/api", description="Moderação: denúncias de comentários e fotos.")


@blp.route("/events/<id:event_id>/comments/<id:comment_id>/report/", methods=["POST"])
@auth_required
@allowed(access.authorize_view)
@blp.arguments(schemas.ReportCreateSchema)
@blp.response(201, schemas.ContentReportSchema)
def report_comment(data, event_id, comment_id):
    """Report a comment (once per person; not one's own → 409). Reported by 3 different people, it is hidden until
    a moderator reviews it."""
    return moderation.report(
        event_id=event_id, item_type=moderation.ItemType.COMMENT, item_id=comment_id, user=current_user, **data
    )


@blp.route("/events/<id:event_id>/photos/<id:photo_id>/report/", methods=["POST"])
@auth_required
@allowed(access.authorize_view)
@blp.arguments(schemas.ReportCreateSchema)
@blp.response(201, schemas.ContentReportSchema)
def report_photo(data, event_id, photo_id):
    """Report a photo (once per person; not one's own → 409). Reported by 3 different people, it is hidden until a
    moderator reviews it."""
    return moderation.report(
        event_id=event_id, item_type=moderation.ItemType.PHOTO, item_id=photo_id, user=current_user, **data
    )


@blp.route("/moderation/", methods=["GET"])
@auth_required
@blp.arguments(schemas.ModerationArgsSchema, location="query")
@blp.response(200, schemas.ModerationPageSchema)
def queue(args):
    """Reported items with their reports, most recently reported first: every event's for staff, their own events'
    for organizing teams (an empty page for anyone else)."""
    page = {"page": args.pop("page"), "page_size": args.pop("page_size")}
    return envelope(moderation.get_queue(caller=current_user, **page, **args), **page)


@blp.route("/moderation/<id:report_id>/", methods=["PATCH"])
@auth_required
@allowed(moderation.authorize_review)
@blp.arguments(schemas.ModerationActionSchema)
@blp.response(200, schemas.ModerationItemSchema)
def review(data, report_id):
    """Decide on a report (staff, or the event's organizing team; not on one's own content): `hide` or `restore`
    the item, closing its open reports, or `dismiss` this report (409 when already reviewed)."""
    return moderation.review(report_id=report_id, caller=current_user, **data)
