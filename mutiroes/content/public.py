"""The content domain's public module for the other domains: what event-detail and the stats embed of an event's
content, the removal of that content when the event goes, and of a person's content when their account is erased.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from mutiroes.content.models import EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.events.models import Event
from mutiroes.models import db

# what event-detail embeds; the full lists are paginated at their own endpoints
DETAIL_COMMENTS_LIMIT = 20
DETAIL_PHOTOS_LIMIT = 20
DETAIL_RESOURCES_LIMIT = 100


def with_replies(comments: list[EventComment]) -> list[EventComment]:
    """Attach every reply of these top-level comments in one statement."""
    by_id = {comment.id: comment for comment in comments}
    for comment in comments:
        comment.replies = []
    if by_id:
        replies = db.session.scalars(
            sa.select(EventComment)
            .where(EventComment.parent_id.in_(list(by_id)))
            .order_by(EventComment.created_at, EventComment.id)
        )
        for reply in replies:
            reply.replies = []
            by_id[reply.parent_id].replies.append(reply)
    return comments


def top_level_comments(event_id: int) -> sa.Select:
    return (
        sa.select(EventComment)
        .where(EventComment.event_id == event_id, EventComment.parent_id.is_(None))
        .order_by(EventComment.created_at.desc(), EventComment.id.desc())
    )


def photos_of(event_id: int) -> sa.Select:
    return (
        sa.select(EventPhoto)
        .where(EventPhoto.event_id == event_id)
        .order_by(EventPhoto.created_at.desc(), EventPhoto.id.desc())
    )


def resources_of(event_id: int) -> sa.Select:
    return sa.select(EventResource).where(EventResource.event_id == event_id).order_by(EventResource.id)


def attach_to_detail(event):
    """What event-detail embeds of the content: four statements whatever the amounts."""
    event.comments = with_replies(list(db.session.scalars(top_level_comments(event.id).limit(DETAIL_COMMENTS_LIMIT))))
    event.photos = list(db.session.scalars(photos_of(event.id).limit(DETAIL_PHOTOS_LIMIT)))
    event.resources = list(db.session.scalars(resources_of(event.id).limit(DETAIL_RESOURCES_LIMIT)))
    return event


def counts(event_id: int) -> dict[str, int]:
    """The content numbers of the event stats, in one statement."""

    def scalar(statement):
        return statement.scalar_subquery()

    R = EventResource  # a short alias keeps the aggregate readable
    row = db.session.execute(
        sa.select(
            scalar(sa.select(sa.func.count()).select_from(EventPhoto).where(EventPhoto.event_id == event_id)),
            scalar(sa.select(sa.func.count()).select_from(EventComment).where(EventComment.event_id == event_id)),
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
    db.session.execute(sa.delete(EventPhoto).where(EventPhoto.user_id == user_id))
    mine = sa.select(EventComment.id).where(EventComment.user_id == user_id).scalar_subquery()
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
