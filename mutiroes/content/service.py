"""Event content: comments, photos, the cover, resources and pledges, and the event's exports.

Each public function is one unit of work. Who may do what reuses the events domain's rules: an event the caller may
not see is 404; seeing it but lacking the role is 403. A comment or photo hidden by moderation exists only for its
author and the event's moderators (``public.shown_to``): for anyone else it is 404, like one that never existed.
Files: an image is stored only after every check passed; if the database write then fails, the stored file is
removed; a replaced or deleted file is removed after the commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from mutiroes.content.models import ContentReport, EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.content.public import (
    give_back,
    photos_of,
    replies_of,
    resources_of,
    shown_to,
    top_level_comments,
    with_replies,
)
from mutiroes.errors import Conflict, Forbidden, NotFound, ValidationError
from mutiroes.events import access
from mutiroes.events.models import Event, EventStatus
from mutiroes.models import commit_keeping_loaded, db, paginate
from mutiroes.platform import images, throttle
from mutiroes.users.models import User

COMMENT_WINDOW_SECONDS = 60

# --- helpers ---------------------------------------------------------------------------------------------------


def _commit_with_file(stored: str, *, event_id: int) -> None:
    """Commit; if that fails the file just written is removed (``images.commit_or_discard``)."""
    try:
        images.commit_or_discard(stored)
    except IntegrityError as exc:
        if db.session.get(Event, event_id) is None:
            # the event was deleted while the image was being decoded
            raise NotFound("Evento não encontrado.") from exc
        raise


def _commit_unless_gone(message: str) -> None:
    """Commit a change to a row that a concurrent request may have deleted meanwhile: then it is a 404."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise NotFound(message) from exc


def shown(model, event: Event, caller: User | None) -> sa.ColumnElement[bool]:
    """The comments or photos of ``event`` that ``caller`` sees (moderation hides some from everyone else)."""
    return shown_to(
        model, viewer_id=caller.id if caller is not None else None, moderator=access.can_manage(event, caller)
    )


# --- comments --------------------------------------------------------------------------------------------------


def get_comments(*, event_id: int, caller: User | None, page: int, page_size: int) -> tuple[int, list[EventComment]]:
    """Top-level comments, newest first, each with its replies: three statements per page."""
    event = access.get_visible(event_id, caller)
    visible = shown(EventComment, event, caller)
    count, rows = paginate(top_level_comments(event.id, visible), page=page, page_size=page_size)
    return count, with_replies(rows, visible)


def get_replies(
    *, event_id: int, comment_id: int, caller: User | None, page: int, page_size: int
) -> tuple[int, list[EventComment]]:
    """Every reply of a top-level comment, oldest first (event-detail and the comment list embed only the latest)."""
    event, comment = _get_comment(event_id, comment_id, caller)
    count, rows = paginate(replies_of(comment.id, shown(EventComment, event, caller)), page=page, page_size=page_size)
    for reply in rows:
        reply.replies = []
    return count, rows


def create_comment(*, event_id: int, user: User, content: str, parent: int | None = None) -> EventComment:
    """Comment (or reply) on an event the caller may see; at most ``comments_per_minute`` a person (429 past it,
    counted on every replica through Redis)."""
    event = access.get_visible(event_id, user)
    if parent is not None:
        parent_comment = db.session.scalar(
            sa.select(EventComment).where(EventComment.id == parent, shown(EventComment, event, user))
        )
        if parent_comment is None or parent_comment.event_id != event.id:
            raise ValidationError({"parent": ["Comentário inexistente neste evento."]})
        if parent_comment.parent_id is not None:
            raise ValidationError({"parent": ["Só é possível responder a comentários, não a respostas."]})
    throttle.take(
        f"mutiroes:comments:{user.id}",
        limit=current_app.config["MUTIROES"].comments_per_minute,
        window=COMMENT_WINDOW_SECONDS,
        detail="Você comentou muitas vezes em pouco tempo. Tente novamente em instantes.",
    )
    comment = EventComment(event_id=event.id, user_id=user.id, parent_id=parent, content=content)
    db.session.add(comment)
    try:
        # the answer is what was written (every column has a Python default): no reload after the commit
        commit_keeping_loaded()
    except IntegrityError as exc:
        # the parent (or the whole event) was deleted between our read and the insert
        db.session.rollback()
        access.get_visible(event_id, user)
        raise ValidationError({"parent": ["Comentário inexistente neste evento."]}) from exc
    comment.replies = []
    return comment


def _get_comment(event_id: int, comment_id: int, caller: User | None) -> tuple[Event, EventComment]:
    event = access.get_visible(event_id, caller)
    comment = db.session.scalar(
        sa.select(EventComment).where(
            EventComment.id == comment_id, EventComment.event_id == event.id, shown(EventComment, event, caller)
        )
    )
    if comment is None:
        raise NotFound("Comentário não encontrado.")
    return event, comment


def authorize_comment_edit(*, event_id: int, comment_id: int, caller: User) -> EventComment:
    """Only the author edits a comment."""
    _event, comment = _get_comment(event_id, comment_id, caller)
    if comment.user_id != caller.id:
        raise Forbidden("Apenas o autor pode editar este comentário.")
    return comment


def update_comment(*, event_id: int, comment_id: int, caller: User, content: str) -> EventComment:
    """Only the author edits a comment."""
    comment = authorize_comment_edit(event_id=event_id, comment_id=comment_id, caller=caller)
    comment.content = content
    _commit_unless_gone("Comentário não encontrado.")
    if comment.parent_id is None:
        event = access.get_event(event_id)  # already loaded by the check above
        return with_replies([comment], shown(EventComment, event, caller))[0]
    comment.replies = []
    return comment


def delete_comment(*, event_id: int, comment_id: int, caller: User) -> None:
    """The author, the organizer (or staff) deletes a comment; a top-level comment takes its replies with it."""
    event, comment = _get_comment(event_id, comment_id, caller)
    if comment.user_id != caller.id and not access.can_manage(event, caller):
        raise Forbidden("Apenas o autor ou o organizador podem excluir este comentário.")
    # explicit for SQLite; PostgreSQL's ON DELETE CASCADE would do the same
    thread = sa.select(EventComment.id).where(
        sa.or_(EventComment.id == comment.id, EventComment.parent_id == comment.id)
    )
    db.session.execute(sa.delete(ContentReport).where(ContentReport.comment_id.in_(thread)))
    db.session.execute(sa.delete(EventComment).where(EventComment.parent_id == comment.id))
    db.session.delete(comment)
    _commit_unless_gone("Comentário não encontrado.")


# --- photos and cover ------------------------------------------------------------------------------------------


def get_photos(
    *,
    event_id: int,
    caller: User | None,
    page: int,
    page_size: int,
    is_before: bool | None = None,
    is_after: bool | None = None,
) -> tuple[int, list[EventPhoto]]:
    event = access.get_visible(event_id, caller)
    statement = photos_of(event.id, shown(EventPhoto, event, caller))
    if is_before is not None:
        statement = statement.where(EventPhoto.is_before.is_(is_before))
    if is_after is not None:
        statement = statement.where(EventPhoto.is_after.is_(is_after))
    return paginate(statement, page=page, page_size=page_size)


def authorize_photo_upload(*, event_id: int, caller: User) -> Event:
    event = access.get_visible(event_id, caller)
    if not access.can_manage(event, caller) and not access.is_confirmed(event.id, caller.id):
        raise Forbidden("Apenas o organizador e os participantes confirmados podem enviar fotos.")
    return event


def add_photo(
    *, event_id: int, user: User, upload, caption: str = "", is_before: bool = False, is_after: bool = False
) -> EventPhoto:
    """The organizer or a confirmed participant adds a photo; nobody else's upload ever reaches the disk."""
    event = authorize_photo_upload(event_id=event_id, caller=user)
    event_pk, user_pk = event.id, user.id
    db.session.rollback()  # no transaction stays open while the image is decoded and written
    stored = images.store(upload, folder="events/photos", field="photo")
    photo = EventPhoto(
        event_id=event_pk, user_id=user_pk, photo=stored, caption=caption, is_before=is_before, is_after=is_after
    )
    db.session.add(photo)
    _commit_with_file(stored, event_id=event_pk)
    return photo


def delete_photo(*, event_id: int, photo_id: int, caller: User) -> None:
    """The uploader or the organizer (or staff) deletes a photo; its file goes once the row is gone."""
    event = access.get_visible(event_id, caller)
    photo = db.session.scalar(
        sa.select(EventPhoto).where(
            EventPhoto.id == photo_id, EventPhoto.event_id == event.id, shown(EventPhoto, event, caller)
        )
    )
    if photo is None:
        raise NotFound("Foto não encontrada.")
    if photo.user_id != caller.id and not access.can_manage(event, caller):
        raise Forbidden("Apenas quem enviou a foto ou o organizador podem excluí-la.")
    path = photo.photo
    db.session.execute(sa.delete(ContentReport).where(ContentReport.photo_id == photo.id))  # explicit for SQLite
    db.session.delete(photo)
    _commit_unless_gone("Foto não encontrada.")
    images.delete(path)


# --- resources and pledges -------------------------------------------------------------------------------------


def get_resources(*, event_id: int, caller: User | None) -> list[EventResource]:
    event = access.get_visible(event_id, caller)
    return list(db.session.scalars(resources_of(event.id)))


def _get_resource(event_id: int, resource_id: int) -> EventResource:
    resource = db.session.scalar(
        sa.select(EventResource).where(EventResource.id == resource_id, EventResource.event_id == event_id)
    )
    if resource is None:
        raise NotFound("Recurso não encontrado.")
    return resource


def create_resource(*, event_id: int, caller: User, data: dict[str, Any]) -> EventResource:
    event = access.get_managed(event_id, caller)
    resource = EventResource(event_id=event.id, **data)
    db.session.add(resource)
    db.session.commit()
    return resource


def authorize_resource_edit(*, event_id: int, resource_id: int, caller: User) -> EventResource:
    event = access.get_managed(event_id, caller)
    return _get_resource(event.id, resource_id)


def update_resource(*, event_id: int, resource_id: int, caller: User, changes: dict[str, Any]) -> EventResource:
    """PUT sends every field, PATCH some. The need cannot drop below what was already pledged."""
    resource = authorize_resource_edit(event_id=event_id, resource_id=resource_id, caller=caller)
    for name, value in changes.items():
        setattr(resource, name, value)
    try:
        _commit_unless_gone("Recurso não encontrado.")
    except IntegrityError as exc:
        # the CHECK (quantity_provided <= quantity_needed) is the judge, also against a pledge landing meanwhile
        db.session.rollback()
        provided = db.session.scalar(sa.select(EventResource.quantity_provided).where(EventResource.id == resource_id))
        raise ValidationError(
            {"quantity_needed": [f"Já foram prometidas {provided} unidades; a necessidade não pode ser menor."]}
        ) from exc
    return resource


def delete_resource(*, event_id: int, resource_id: int, caller: User) -> None:
    event = access.get_managed(event_id, caller)
    resource = _get_resource(event.id, resource_id)
    db.session.execute(sa.delete(ResourcePledge).where(ResourcePledge.resource_id == resource.id))
    db.session.delete(resource)
    _commit_unless_gone("Recurso não encontrado.")


def _pledge_target(event_id: int, resource_id: int, user: User, *, lock: bool) -> tuple[Event, EventResource]:
    event = access.get_visible(event_id, user)
    resource = _get_resource(event.id, resource_id)
    if not access.is_confirmed(event.id, user.id, lock=lock):
        raise Forbidden("Apenas participantes confirmados podem se comprometer a levar recursos.")
    return event, resource


def authorize_pledge(*, event_id: int, resource_id: int, caller: User) -> EventResource:
    return _pledge_target(event_id, resource_id, caller, lock=False)[1]


def get_pledges(*, event_id: int, resource_id: int, caller: User | None) -> list[ResourcePledge]:
    """Who promised how much of a resource, oldest first (anyone who may see the event: participants' names are
    on event-detail already)."""
    event = access.get_visible(event_id, caller)
    resource = _get_resource(event.id, resource_id)
    return list(
        db.session.scalars(
            sa.select(ResourcePledge)
            .where(ResourcePledge.resource_id == resource.id)
            .order_by(ResourcePledge.created_at, ResourcePledge.id)
        )
    )


def delete_pledge(*, event_id: int, resource_id: int, pledge_id: int, caller: User) -> None:
    """The organizer (or staff) removes a pledge, or its author withdraws it: what it promised is needed again.

    The pledge is deleted and its quantity given back by one statement, so a pledge released at the same moment (its
    author left the event) is given back once."""
    event = access.get_visible(event_id, caller)
    resource = _get_resource(event.id, resource_id)
    record = db.session.scalar(
        sa.select(ResourcePledge).where(ResourcePledge.id == pledge_id, ResourcePledge.resource_id == resource.id)
    )
    if record is None:
        raise NotFound("Compromisso não encontrado.")
    if record.user_id != caller.id and not access.can_manage(event, caller):
        raise Forbidden("Apenas o organizador ou quem se comprometeu podem remover este compromisso.")
    released = db.session.execute(
        sa.delete(ResourcePledge)
        .where(ResourcePledge.id == record.id)
        .returning(ResourcePledge.resource_id, ResourcePledge.quantity)
        .execution_options(synchronize_session=False)
    ).all()
    if not released:
        db.session.rollback()
        raise NotFound("Compromisso não encontrado.")
    give_back(released)
    db.session.commit()


def pledge(*, event_id: int, resource_id: int, user: User, quantity: int) -> ResourcePledge:
    """A confirmed participant promises ``quantity`` units: one conditional UPDATE takes them, so concurrent
    pledges on any number of replicas never push ``quantity_provided`` past ``quantity_needed``.

    The participation stays locked until the pledge commits: a leave or a rejection at the same moment waits, then
    releases this pledge with the others."""
    event, resource = _pledge_target(event_id, resource_id, user, lock=True)
    if event.status in (EventStatus.CANCELLED, EventStatus.COMPLETED):
        raise Conflict("Este evento foi cancelado ou já foi concluído.")
    taken = db.session.execute(
        sa.update(EventResource)
        .where(
            EventResource.id == resource.id,
            EventResource.quantity_provided + quantity <= EventResource.quantity_needed,
        )
        .values(quantity_provided=EventResource.quantity_provided + quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        db.session.rollback()
        remaining = db.session.scalar(
            sa.select(EventResource.quantity_needed - EventResource.quantity_provided).where(
                EventResource.id == resource_id
            )
        )
        if remaining is None:  # deleted by the organizer meanwhile
            raise NotFound("Recurso não encontrado.")
        raise Conflict(f"Quantidade acima do que ainda falta ({remaining}).")
    record = ResourcePledge(resource_id=resource.id, user_id=user.id, quantity=quantity)
    db.session.add(record)
    db.session.commit()
    db.session.refresh(resource)
    return record
