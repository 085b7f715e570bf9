"""The content domain's public module for the other domains: what event-detail and the stats embed of an event's
content, the copy of an event's needs for its series, the removal of that content when the event goes, and of a
person's content when their account is erased.

A comment or photo hidden by moderation (``moderation``) is shown only to its author and to the event's moderators
(its organizing team and staff): every list here takes the viewer into account through :func:`shown_to`.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes.content.models import (
    ContentReport,
    EventComment,
    EventPhoto,
    EventResource,
    ResourcePledge,
    Visibility,
)
from mutiroes.events.models import Event
from mutiroes.models import db

# what event-detail embeds; the full lists are paginated at their own endpoints
DETAIL_COMMENTS_LIMIT = 20
DETAIL_PHOTOS_LIMIT = 20
DETAIL_RESOURCES_LIMIT = 100
# replies embedded in each top-level comment: the latest few, with the count of all (the rest at .../replies/)
EMBEDDED_REPLIES = 3


def shown_to(model, *, viewer_id: int | None, moderator: bool) -> sa.ColumnElement[bool]:
    """Which comments or photos (``model``) the viewer sees: all of them for a moderator; otherwise the visible ones
    and the viewer's own."""
    if moderator:
        return sa.true()
    visible = model.visibility == Visibility.VISIBLE
    return visible if viewer_id is None else sa.or_(visible, model.user_id == viewer_id)


def with_replies(comments: list[EventComment], shown: sa.ColumnElement[bool]) -> list[EventComment]:
    """Attach to each top-level comment its latest ``EMBEDDED_REPLIES`` replies that the viewer sees (``shown``;
    oldest first among them) and the number of all such replies: two statements, however many replies there are."""
    by_id = {comment.id: comment for comment in comments}
    for comment in comments:
        comment.replies = []
        comment.replies_count = 0
    if not by_id:
        return comments
    parents = list(by_id)
    counts = db.session.execute(
        sa.select(EventComment.parent_id, sa.func.count())
        .where(EventComment.parent_id.in_(parents), shown)
        .group_by(EventComment.parent_id)
    )
    for parent_id, count in counts:
        by_id[parent_id].replies_count = count
    newest_first = (
        sa.func.row_number()
        .over(
            partition_by=EventComment.parent_id,
            order_by=(EventComment.created_at.desc(), EventComment.id.desc()),
        )
        .label("place")
    )
    ranked = sa.select(EventComment.id, newest_first).where(EventComment.parent_id.in_(parents), shown).subquery()
    replies = db.session.scalars(
        sa.select(EventComment)
        .join(ranked, ranked.c.id == EventComment.id)
        .where(ranked.c.place <= EMBEDDED_REPLIES)
        .order_by(EventComment.created_at, EventComment.id)
    )
    for reply in replies:
        reply.replies = []
        reply.replies_count = 0
        by_id[reply.parent_id].replies.append(reply)
    return comments


def replies_of(comment_id: int, shown: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(EventComment)
        .where(EventComment.parent_id == comment_id, shown)
        .order_by(EventComment.created_at, EventComment.id)
    )


def release_pledges(*, event_id: int, user_id: int) -> int:
    """Take back everything ``user_id`` pledged to bring to the event (they left, or were rejected or removed):
    the pledges go and each resource's ``quantity_provided`` drops by what they had promised.

    A pledge is deleted and its quantity returned by one statement (DELETE ... RETURNING), so a pledge removed at
    the same moment by the organizer is given back once. Returns the number of units released."""
    resources = sa.select(EventResource.id).where(EventResource.event_id == event_id).scalar_subquery()
    released = db.session.execute(
        sa.delete(ResourcePledge)
        .where(ResourcePledge.user_id == user_id, ResourcePledge.resource_id.in_(resources))
        .returning(ResourcePledge.resource_id, ResourcePledge.quantity)
        .execution_options(synchronize_session=False)
    ).all()
    return give_back(released)


def give_back(released) -> int:
    """Lower ``quantity_provided`` by the ``(resource_id, quantity)`` pairs of deleted pledges."""
    per_resource: dict[int, int] = {}
    for resource_id, quantity in released:
        per_resource[resource_id] = per_resource.get(resource_id, 0) + quantity
    for resource_id, quantity in per_resource.items():
        db.session.execute(
            sa.update(EventResource)
            .where(EventResource.id == resource_id)
            .values(quantity_provided=EventResource.quantity_provided - quantity)
            .execution_options(synchronize_session=False)
        )
    return sum(per_resource.values())


def top_level_comments(event_id: int, shown: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(EventComment)
        .where(EventComment.event_id == event_id, EventComment.parent_id.is_(None), shown)
        .order_by(EventComment.created_at.desc(), EventComment.id.desc())
    )


def photos_of(event_id: int, shown: sa.ColumnElement[bool]) -> sa.Select:
    return (
        sa.select(EventPhoto)
        .where(EventPhoto.event_id == event_id, shown)
        .order_by(EventPhoto.created_at.desc(), EventPhoto.id.desc())
    )


def resources_of(event_id: int) -> sa.Select:
    return sa.select(EventResource).where(EventResource.event_id == event_id).order_by(EventResource.id)


def attach_to_detail(event, *, viewer_id: int | None, moderator: bool):
    """What event-detail embeds of the content, as this viewer sees it: four statements whatever the amounts."""
    comments, photos = (shown_to(m, viewer_id=viewer_id, moderator=moderator) for m in (EventComment, EventPhoto))
    event.comments = with_replies(
        list(db.session.scalars(top_level_comments(event.id, comments).limit(DETAIL_COMMENTS_LIMIT))), comments
    )
    event.photos = list(db.session.scalars(photos_of(event.id, photos).limit(DETAIL_PHOTOS_LIMIT)))
    event.resources = list(db.session.scalars(resources_of(event.id).limit(DETAIL_RESOURCES_LIMIT)))
    return event


def counts(event_id: int) -> dict[str, int]:
    """The content numbers of the event stats, in one statement; hidden comments and photos are not counted."""

    def scalar(statement):
        return statement.scalar_subquery()

    R = EventResource  # a short alias keeps the aggregate readable
    row = db.session.execute(
        sa.select(
            scalar(
                sa.select(sa.func.count())
                .select_from(EventPhoto)
                .where(EventPhoto.event_id == event_id, EventPhoto.visibility == Visibility.VISIBLE)
            ),
            scalar(
                sa.select(sa.func.count())
                .select_from(EventComment)
                .where(EventComment.event_id == event_id, EventComment.visibility == Visibility.VISIBLE)
            ),
            scalar(sa.select(sa.func.count()).select_from(R).where(R.event_id == event_id)),
            scalar(
                sa.select(sa.func.count())
                .select_from(R)
                .where(R.event_id == event_id, R.quantity_provided >= R.quantity_needed)
            ),
        )
    ).one()
    photos, comments, resources, fully_provided = (int(value) for value in row)
    return {
        "photos_count": photos,
        "comments_count": comments,
        "resources_count": resources,
        "fully_provided_resources": fully_provided,
    }


def purge_event(event_id: int) -> list[str]:
    """Delete the content rows of an event about to be deleted; returns the photo files to remove after the commit.

    Explicit, because SQLite does not enforce ON DELETE CASCADE without a pragma.
    """
    files = list(db.session.scalars(sa.select(EventPhoto.photo).where(EventPhoto.event_id == event_id)))
    db.session.execute(sa.delete(ContentReport).where(ContentReport.event_id == event_id))
    resource_ids = sa.select(EventResource.id).where(EventResource.event_id == event_id).scalar_subquery()
    db.session.execute(sa.delete(ResourcePledge).where(ResourcePledge.resource_id.in_(resource_ids)))
    db.session.execute(sa.delete(EventResource).where(EventResource.event_id == event_id))
    db.session.execute(sa.delete(EventPhoto).where(EventPhoto.event_id == event_id))
    db.session.execute(
        sa.delete(EventComment).where(EventComment.event_id == event_id, EventComment.parent_id.is_not(None))
    )
    db.session.execute(sa.delete(EventComment).where(EventComment.event_id == event_id))
    return files


def erase_author(user_id: int, now: dt.datetime) -> list[str]:
    """Inside an account erasure's unit of work: delete the person's comments (a top-level one takes its replies,
    as when its author deletes it) and photos, and take back their pledges to events not over yet (what they were
    to bring is needed again); pledges to past events stay, anonymous. Returns the photo files to remove after the
    commit."""
    files = list(db.session.scalars(sa.select(EventPhoto.photo).where(EventPhoto.user_id == user_id)))
    mine = sa.select(EventComment.id).where(EventComment.user_id == user_id).scalar_subquery()
    my_photos = sa.select(EventPhoto.id).where(EventPhoto.user_id == user_id).scalar_subquery()
    # moderation reports they filed, and those of their items and of the replies that go with them (explicit for
    # SQLite, like the rest)
    replies = sa.select(EventComment.id).where(EventComment.parent_id.in_(mine)).scalar_subquery()
    db.session.execute(
        sa.delete(ContentReport).where(
            sa.or_(
                ContentReport.reporter_id == user_id,
                ContentReport.comment_id.in_(mine),
                ContentReport.comment_id.in_(replies),
                ContentReport.photo_id.in_(my_photos),
            )
        )
    )
    db.session.execute(sa.delete(EventPhoto).where(EventPhoto.user_id == user_id))
    # explicit for SQLite; PostgreSQL's ON DELETE CASCADE would do the same
    db.session.execute(sa.delete(EventComment).where(EventComment.parent_id.in_(mine)))
    db.session.execute(sa.delete(EventComment).where(EventComment.user_id == user_id))
    upcoming = db.session.execute(
        sa.select(ResourcePledge.id, ResourcePledge.resource_id, ResourcePledge.quantity)
        .join(EventResource, EventResource.id == ResourcePledge.resource_id)
        .join(Event, Event.id == EventResource.event_id)
        .where(ResourcePledge.user_id == user_id, Event.end_date > now)
        .order_by(ResourcePledge.resource_id)
    ).all()
    for _pledge_id, resource_id, quantity in upcoming:
        db.session.execute(
            sa.update(EventResource)
            .where(EventResource.id == resource_id, EventResource.quantity_provided >= quantity)
            .values(quantity_provided=EventResource.quantity_provided - quantity)
            .execution_options(synchronize_session=False)
        )
    if upcoming:
        db.session.execute(sa.delete(ResourcePledge).where(ResourcePledge.id.in_([row[0] for row in upcoming])))
    return files


def copy_resources(from_event_id: int, to_event_ids: list[int]) -> None:
    """Give each of ``to_event_ids`` the needs of ``from_event_id`` (nothing pledged yet): a series' copies."""
    resources = db.session.scalars(resources_of(from_event_id)).all()
    rows = [
        {
            "event_id": event_id,
            "name": resource.name,
            "description": resource.description,
            "resource_type": resource.resource_type,
            "quantity_needed": resource.quantity_needed,
            "quantity_provided": 0,
            "unit": resource.unit,
        }
        for event_id in to_event_ids
        for resource in resources
    ]
    if rows:
        db.session.execute(sa.insert(EventResource), rows)
