"""The content domain's public module for the events domain: what event-detail and the stats embed of an event's
content, the copy of an event's needs for its series, and the removal of that content when the event goes.

A comment or photo hidden by moderation (``moderation``) is shown only to its author and to the event's moderators
(its organizing team and staff): every list here takes the viewer into account through :func:`shown_to`.
"""

from __future__ import annotations

import sqlalchemy as sa

from mutiroes.content.models import (
    ContentReport,
    EventComment,
    EventPhoto,
    EventResource,
    ResourcePledge,
    Visibility,
)
from mutiroes.models import db

# what event-detail embeds; the full lists are paginated at their own endpoints
DETAIL_COMMENTS_LIMIT = 20
DETAIL_PHOTOS_LIMIT = 20
DETAIL_RESOURCES_LIMIT = 100


def shown_to(model, *, viewer_id: int | None, moderator: bool) -> sa.ColumnElement[bool]:
    """Which comments or photos (``model``) the viewer sees: all of them for a moderator; otherwise the visible ones
    and the viewer's own."""
    if moderator:
        return sa.true()
    visible = model.visibility == Visibility.VISIBLE
    return visible if viewer_id is None else sa.or_(visible, model.user_id == viewer_id)


def with_replies(comments: list[EventComment], shown: sa.ColumnElement[bool]) -> list[EventComment]:
    """Attach every reply of these top-level comments that the viewer sees (``shown``), in one statement."""
    by_id = {comment.id: comment for comment in comments}
    for comment in comments:
        comment.replies = []
    if by_id:
        replies = db.session.scalars(
            sa.select(EventComment)
            .where(EventComment.parent_id.in_(list(by_id)), shown)
            .order_by(EventComment.created_at, EventComment.id)
        )
        for reply in replies:
            reply.replies = []
            by_id[reply.parent_id].replies.append(reply)
    return comments


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
