"""Organizing together over HTTP: co-organizers, series and the organizers' messages."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from mutiroes.events import access, messages, organizers, schemas, series
from mutiroes.web.auth import allowed, auth_required, caller, current_user, optional_auth
from mutiroes.web.pagination import envelope

blp = Blueprint(
    "organizing",
    __name__,
    url_prefix="/api/events",
    description="Organizar junto: coorganizadores, séries de eventos e mensagens aos participantes.",
)


@blp.route("/<id:event_id>/organizers/")
class Organizers(MethodView):
    @optional_auth
    @blp.response(200, schemas.CoOrganizerSchema(many=True))
    def get(self, event_id):
        """The event's co-organizers (array), for anyone who may see the event."""
        return organizers.get_all(event_id=event_id, caller=caller())

    @auth_required
    @allowed(access.authorize_own)
    @blp.arguments(schemas.CoOrganizerCreateSchema)
    @blp.response(201, schemas.CoOrganizerSchema)
    def post(self, data, event_id):
        """Add a co-organizer (the organizer or staff; co-organizers → 403). They may do everything the organizer
        does but delete the event or change the co-organizers. Unknown user → 400; already organizing → 409."""
        return organizers.create(event_id=event_id, caller=current_user, **data)


@blp.route("/<id:event_id>/organizers/<id:user_id>/", methods=["DELETE"])
@auth_required
@blp.response(204)
def remove_organizer(event_id, user_id):
    """Remove a co-organizer: the organizer or staff, or the co-organizer themself (stepping down)."""
    organizers.delete(event_id=event_id, caller=current_user, user_id=user_id)


@blp.route("/<id:event_id>/repeat/", methods=["POST"])
@auth_required
@allowed(access.authorize_manage)
@blp.arguments(schemas.RepeatSchema)
@blp.response(201, schemas.EventListItemSchema(many=True))
def repeat(data, event_id):
    """Copy the event `count` times at the next `weekly`, `biweekly` or `monthly` dates (organizing team or
    staff), without its participants. The copies and the original share `series_id`; none starts in the past."""
    return series.repeat(event_id=event_id, caller=current_user, **data)


@blp.route("/<id:event_id>/messages/")
class Messages(MethodView):
    @auth_required
    @allowed(messages.authorize_read)
    @blp.arguments(schemas.MessageArgsSchema, location="query")
    @blp.response(200, schemas.MessagePageSchema)
    def get(self, args, event_id):
        """The event's messages, newest first: all of them for the organizing team and staff, those addressed to
        them for participants (anyone else → 403)."""
        return envelope(messages.get_page(event_id=event_id, caller=current_user, **args), **args)

    @auth_required
    @allowed(access.authorize_manage)
    @blp.arguments(schemas.MessageCreateSchema)
    @blp.response(202, schemas.MessageSchema)
    @blp.alt_response(429, description="Já foram 5 mensagens deste evento nas últimas 24 horas; veja Retry-After.")
    def post(self, data, event_id):
        """Write to the participants (organizing team or staff): `confirmed`, or `all` = confirmed + pending +
        waitlisted. Emailed once to each person through the outbox; at most 5 messages per event in 24 hours."""
        return messages.create(event_id=event_id, caller=current_user, **data)
