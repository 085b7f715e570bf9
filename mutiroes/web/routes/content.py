"""Event sub-resources over HTTP: comments, photos, the cover, resources, pledges and the exports."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from mutiroes.content import schemas, service
from mutiroes.events import access, exports
from mutiroes.events import service as events
from mutiroes.events.schemas import EventDetailSchema
from mutiroes.web.auth import allowed, auth_required, caller, current_user, optional_auth
from mutiroes.web.pagination import envelope
from mutiroes.web.parsing import Blueprint

blp = Blueprint(
    "content", __name__, url_prefix="/api/events", description="Conteúdo dos eventos: comentários, fotos, recursos."
)

IMAGE_ERRORS = (
    (413, "Imagem maior que o limite de upload."),
    (415, "O arquivo não é uma imagem JPEG, PNG ou WebP."),
)


def _image_errors(func):
    for status, description in IMAGE_ERRORS:
        func = blp.alt_response(status, description=description)(func)
    return func


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- comments --------------------------------------------------------------------------------------------------


@blp.route("/<id:event_id>/comments/")
class Comments(MethodView):
    @optional_auth
    @allowed(access.authorize_view)
    @blp.arguments(schemas.CommentArgsSchema, location="query")
    @blp.response(200, schemas.CommentPageSchema)
    def get(self, args, event_id):
        """Top-level comments, newest first, each with its latest 3 `replies` (oldest first among them) and
        `replies_count`."""
        return envelope(service.get_comments(event_id=event_id, caller=caller(), **args), **args)

    @auth_required
    @allowed(access.authorize_view)
    @blp.arguments(schemas.CommentCreateSchema)
    @blp.response(201, schemas.CommentSchema)
    @blp.alt_response(429, description="Comentários demais em pouco tempo; veja Retry-After.")
    def post(self, data, event_id):
        """Comment on an event the caller may see. `parent` answers a top-level comment of the same event (a
        reply to a reply, or to another event's comment, is 400). At most `MUTIROES_COMMENTS_PER_MINUTE` (10) a
        minute per person; more → 429 with Retry-After."""
        return service.create_comment(event_id=event_id, user=current_user, **data)


@blp.route("/<id:event_id>/comments/<id:comment_id>/replies/", methods=["GET"])
@optional_auth
@allowed(access.authorize_view)
@blp.arguments(schemas.ReplyArgsSchema, location="query")
@blp.response(200, schemas.ReplyPageSchema)
def replies(args, event_id, comment_id):
    """Every reply of a comment, oldest first (the comment itself embeds only the latest 3)."""
    return envelope(service.get_replies(event_id=event_id, comment_id=comment_id, caller=caller(), **args), **args)


@blp.route("/<id:event_id>/comments/<id:comment_id>/")
class Comment(MethodView):
    @auth_required
    @allowed(service.authorize_comment_edit)
    @blp.arguments(schemas.CommentUpdateSchema)
    @blp.response(200, schemas.CommentSchema)
    def patch(self, data, event_id, comment_id):
        """Edit a comment (its author only; others → 403)."""
        return service.update_comment(event_id=event_id, comment_id=comment_id, caller=current_user, **data)

    @auth_required
    @blp.response(204)
    def delete(self, event_id, comment_id):
        """Delete a comment: its author or the organizer (others → 403). A top-level comment takes its replies
        with it."""
        service.delete_comment(event_id=event_id, comment_id=comment_id, caller=current_user)


# --- photos and cover ------------------------------------------------------------------------------------------


@blp.route("/<id:event_id>/photos/")
class Photos(MethodView):
    @optional_auth
    @allowed(access.authorize_view)
    @blp.arguments(schemas.PhotoArgsSchema, location="query")
    @blp.response(200, schemas.PhotoPageSchema)
    def get(self, args, event_id):
        """Photos of an event, newest first (filter with `is_before` / `is_after`)."""
        return envelope(
            service.get_photos(event_id=event_id, caller=caller(), **args),
            page=args["page"],
            page_size=args["page_size"],
        )

    @auth_required
    @allowed(service.authorize_photo_upload)
    @blp.arguments(schemas.PhotoUploadSchema, location="multipart")
    @blp.response(201, schemas.PhotoSchema)
    @_image_errors
    def post(self, data, event_id):
        """Add a photo (multipart `photo`, `caption`, `is_before`, `is_after`): the organizer or a confirmed
        participant (others → 403). The image is judged by content and re-encoded without metadata."""
        upload = data.pop("photo")
        return service.add_photo(event_id=event_id, user=current_user, upload=upload, **data)


@blp.route("/<id:event_id>/photos/<id:photo_id>/", methods=["DELETE"])
@auth_required
@blp.response(204)
def delete_photo(event_id, photo_id):
    """Delete a photo: its uploader or the organizer (others → 403); the file goes with it."""
    service.delete_photo(event_id=event_id, photo_id=photo_id, caller=current_user)


@blp.route("/<id:event_id>/cover/", methods=["PUT"])
@auth_required
@allowed(access.authorize_manage)
@blp.arguments(schemas.CoverUploadSchema, location="multipart")
@blp.response(200, EventDetailSchema)
@_image_errors
def set_cover(files, event_id):
    """Replace the event's cover (multipart `cover_image`; organizer only). The previous file is removed."""
    return events.set_cover(event_id=event_id, caller=current_user, upload=files["cover_image"])


# --- resources and pledges -------------------------------------------------------------------------------------


@blp.route("/<id:event_id>/resources/")
class Resources(MethodView):
    @optional_auth
    @blp.response(200, schemas.ResourceSchema(many=True))
    def get(self, event_id):
        """What the event needs (array, in creation order) and how much of it is already pledged."""
        return service.get_resources(event_id=event_id, caller=caller())

    @auth_required
    @allowed(access.authorize_manage)
    @blp.arguments(schemas.ResourceCreateSchema)
    @blp.response(201, schemas.ResourceSchema)
    def post(self, data, event_id):
        """Add a needed tool, material or piece of equipment (organizer only)."""
        return service.create_resource(event_id=event_id, caller=current_user, data=data)


@blp.route("/<id:event_id>/resources/<id:resource_id>/")
class Resource(MethodView):
    @auth_required
    @allowed(service.authorize_resource_edit)
    @blp.arguments(schemas.ResourceCreateSchema)
    @blp.response(200, schemas.ResourceSchema)
    def put(self, data, event_id, resource_id):
        """Replace a resource (organizer only); the need cannot drop below what is already pledged (400)."""
        return service.update_resource(event_id=event_id, resource_id=resource_id, caller=current_user, changes=data)

    @auth_required
    @allowed(service.authorize_resource_edit)
    @blp.arguments(schemas.ResourceUpdateSchema)
    @blp.response(200, schemas.ResourceSchema)
    def patch(self, changes, event_id, resource_id):
        """Change some fields of a resource (organizer only)."""
        return service.update_resource(event_id=event_id, resource_id=resource_id, caller=current_user, changes=changes)

    @auth_required
    @blp.response(204)
    def delete(self, event_id, resource_id):
        """Remove a resource and its pledges (organizer only)."""
        service.delete_resource(event_id=event_id, resource_id=resource_id, caller=current_user)


@blp.route("/<id:event_id>/resources/<id:resource_id>/pledge/", methods=["POST"])
@auth_required
@allowed(service.authorize_pledge)
@blp.arguments(schemas.PledgeCreateSchema)
@blp.response(201, schemas.PledgeSchema)
def pledge(data, event_id, resource_id):
    """Promise to bring `quantity` units (confirmed participants only; others → 403). More than what is still
    needed → 409; concurrent pledges never exceed `quantity_needed`. Leaving the event, or being rejected or
    removed, releases every pledge of the person."""
    return service.pledge(event_id=event_id, resource_id=resource_id, user=current_user, **data)


@blp.route("/<id:event_id>/resources/<id:resource_id>/pledges/", methods=["GET"])
@optional_auth
@blp.response(200, schemas.PledgeSchema(many=True))
def pledges(event_id, resource_id):
    """Who promised how much of the resource (array, oldest first): anyone who may see the event."""
    return service.get_pledges(event_id=event_id, resource_id=resource_id, caller=caller())


@blp.route("/<id:event_id>/resources/<id:resource_id>/pledges/<id:pledge_id>/", methods=["DELETE"])
@auth_required
@blp.response(204)
def delete_pledge(event_id, resource_id, pledge_id):
    """Remove a pledge: the organizer (or staff), or its author withdrawing it (others → 403). What it promised is
    needed again: `quantity_provided` drops by its quantity."""
    service.delete_pledge(event_id=event_id, resource_id=resource_id, pledge_id=pledge_id, caller=current_user)


# --- exports ---------------------------------------------------------------------------------------------------


@blp.route("/<id:event_id>/ical/", methods=["GET"])
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="text/calendar",
    description="One VEVENT (RFC 5545), times in UTC.",
)
@optional_auth
def ical(event_id):
    """The event as an iCalendar file (anyone who may see the event)."""
    body = exports.ical_export(event_id=event_id, caller=caller())
    return _download(body, "text/calendar; charset=utf-8", exports.export_filename(event_id, "ics"))


@blp.route("/<id:event_id>/participants.csv/", methods=["GET"])  # answers without the slash too
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="text/csv",
    description="UTF-8 with BOM; cells that could start a formula are prefixed with a quote.",
)
@auth_required
def participants_csv(event_id):
    """Every participation with contact and emergency details (organizer and staff only; others → 403)."""
    body = exports.participants_csv(event_id=event_id, caller=current_user)
    return _download(body, "text/csv; charset=utf-8", exports.export_filename(event_id, "csv"))
