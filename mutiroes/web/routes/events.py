"""Events over HTTP: parse, call one service function, answer."""

from __future__ import annotations

from flask.views import MethodView

from mutiroes.events import access, discovery, participation, schemas, service
from mutiroes.schemas import DetailSchema
from mutiroes.web import listing
from mutiroes.web.auth import allowed, auth_required, caller, current_user, optional_auth
from mutiroes.web.pagination import envelope
from mutiroes.web.parsing import REPRESENTATION_BODY_MAX_BYTES, Blueprint, body_limit

blp = Blueprint("events", __name__, url_prefix="/api/events", description="Eventos (mutirões).")


@blp.route("/categories/", methods=["GET"])
@blp.response(200, schemas.CategorySchema(many=True))
def categories():
    """Every event category (array, not paginated)."""
    return discovery.get_all_categories()


@blp.route("/")
class Events(MethodView):
    @optional_auth
    @blp.arguments(schemas.EventQueryArgsSchema, location="query")
    @blp.response(200, schemas.EventPageSchema)
    def get(self, args):
        """Events, published ones by default; combinable filters.

        Other statuses than `published` list only the caller's own events. `search` looks in title, description,
        address and city, ignoring case and accents. `latitude` + `longitude` (+ `radius` km, default 10) keep
        events within that great-circle distance. Anonymous answers may be cached up to 60 s, but every write is
        visible to the next read. `count` is exact up to 1,000 events; past that it is the database's estimate
        (never below the events the page shows to exist), and the last page's count is always exact.
        """
        page = {"page": args.pop("page"), "page_size": args.pop("page_size")}
        return listing.event_page(discovery.get_page(caller=caller(), filters=args, **page), **page)

    @auth_required
    @blp.arguments(schemas.EventCreateSchema)
    @blp.response(201, schemas.EventDetailSchema)
    def post(self, data):
        """Create an event; the caller becomes its organizer."""
        return service.create(organizer=current_user, data=data)


@blp.route("/nearby/", methods=["GET"])
@blp.arguments(schemas.NearbyArgsSchema, location="query")
@blp.response(200, schemas.NearbyEventSchema(many=True))
def nearby(args):
    """Published public events not yet ended within `radius` km (array), nearest first, with `distance_km`.

    Each event is its list item: like the list's, it may be up to 30 s old in its time-dependent fields
    (`is_active`, `is_registration_open`), and every write is visible to the next read."""
    return listing.nearby(discovery.nearby(**args))


@blp.route("/my_events/", methods=["GET"])
@auth_required
@blp.response(200, schemas.MyEventsSchema)
def my_events():
    """Events the caller organizes, and those where their participation is confirmed, pending or waitlisted."""
    return discovery.my_events(user=current_user)


@blp.route("/<id:event_id>/")
class EventDetail(MethodView):
    @optional_auth
    @blp.response(200, schemas.EventDetailSchema)
    def get(self, event_id):
        """One event. Drafts and private events exist only for their organizer (404 for anyone else)."""
        return service.get(event_id=event_id, caller=caller())

    @auth_required
    @allowed(access.authorize_manage)
    @body_limit(REPRESENTATION_BODY_MAX_BYTES)
    @blp.arguments(schemas.EventCreateSchema)
    @blp.response(200, schemas.EventDetailSchema)
    def put(self, data, event_id):
        """Replace an event (organizer or staff). Confirmed participants are told of date or place changes.

        The event-detail may be sent back as it was answered: its read-only fields are ignored, and `category`
        may be the category object."""
        return service.update(event_id=event_id, caller=current_user, changes=data)

    @auth_required
    @allowed(access.authorize_manage)
    @body_limit(REPRESENTATION_BODY_MAX_BYTES)
    @blp.arguments(schemas.EventUpdateSchema)
    @blp.response(200, schemas.EventDetailSchema)
    def patch(self, changes, event_id):
        """Change some fields of an event (organizer or staff)."""
        return service.update(event_id=event_id, caller=current_user, changes=changes)

    @auth_required
    @blp.response(204)
    def delete(self, event_id):
        """Delete an event (organizer or staff); people still expecting it get a cancellation email."""
        service.delete(event_id=event_id, caller=current_user)


@blp.route("/<id:event_id>/join/", methods=["POST"])
@auth_required
@allowed(access.authorize_view)
@blp.arguments(schemas.JoinSchema, required=False)
@blp.response(201, schemas.ParticipationSchema)
def join(details, event_id):
    """Join: `pending` when the event requires approval, `confirmed` while spots remain, else `waitlisted`
    (or 409 when the waitlist is disabled). Already joined or closed registration → 409; an event with an age range
    and a profile without a birth date → 409. The organizer may join their own event: confirmed without approval,
    taking a spot."""
    return participation.join(event_id=event_id, user=current_user, details=details)


@blp.route("/<id:event_id>/leave/", methods=["POST"])
@auth_required
@blp.response(200, DetailSchema)
def leave(event_id):
    """Leave an event (404 when not joined); a freed spot goes to the earliest waitlisted participant, and what the
    person pledged to bring is needed again."""
    participation.leave(event_id=event_id, user=current_user)
    return {"detail": "Inscrição cancelada."}


@blp.route("/<id:event_id>/check_in/", methods=["POST"])
@auth_required
@allowed(access.authorize_view)
@blp.arguments(schemas.CheckInSchema, required=False)
@blp.response(200, schemas.ParticipationSchema)
def check_in(data, event_id):
    """Check in, from 60 minutes before the start until the end (409 outside). With `require_check_in_code`
    the body carries the event's `code` (403 when wrong). The organizer checks in someone with `user_id`."""
    return participation.check_in(event_id=event_id, caller=current_user, **data)


@blp.route("/<id:event_id>/stats/", methods=["GET"])
@optional_auth
@blp.response(200, schemas.EventStatsSchema)
def event_stats(event_id):
    """Participation numbers of an event the caller may see."""
    return service.stats(event_id=event_id, caller=caller())


@blp.route("/<id:event_id>/participants/", methods=["GET"])
@auth_required
@allowed(access.authorize_manage)
@blp.arguments(schemas.ParticipantsArgsSchema, location="query")
@blp.response(200, schemas.ParticipationPageSchema)
def participants(args, event_id):
    """Every participation of the event, with emergency details: the organizer's (and staff's) alone."""
    page = {"page": args.pop("page"), "page_size": args.pop("page_size")}
    return envelope(participation.get_participants(event_id=event_id, caller=current_user, **page, **args), **page)


@blp.route("/<id:event_id>/participants/<id:pid>/")
class Participation(MethodView):
    @auth_required
    @blp.response(200, schemas.ParticipationSchema)
    def get(self, event_id, pid):
        """One participation: its participant or the organizer."""
        return participation.get_participation(event_id=event_id, pid=pid, caller=current_user)

    @auth_required
    @allowed(participation.authorize_participation)
    @blp.arguments(schemas.ParticipationUpdateSchema)
    @blp.response(200, schemas.ParticipationSchema)
    def patch(self, changes, event_id, pid):
        """The organizer sets `status` (confirmed respects capacity: 409 when full; rejected); the participant
        edits their emergency fields. The participation may be sent back as it was answered: read-only fields are
        ignored, and fields sent with their current value change nothing."""
        return participation.update_participation(event_id=event_id, pid=pid, caller=current_user, changes=changes)

    @auth_required
    @blp.response(204)
    def delete(self, event_id, pid):
        """Remove a participation (organizer or staff); its spot goes to the waitlist."""
        participation.delete_participation(event_id=event_id, pid=pid, caller=current_user)
