"""Event content: comments, photos, the cover, resources and pledges, and the event's exports.

Each public function is one unit of work. Who may do what reuses the events domain's rules: an event the caller may
not see is 404; seeing it but lacking the role is 403. Files: an image is stored only after every check passed; if
the database write then fails, the stored file is removed; a replaced or deleted file is removed after the commit.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from mutiroes import images
from mutiroes.content.models import EventComment, EventPhoto, EventResource, ResourcePledge
from mutiroes.content.queries import photos_of, resources_of, top_level_comments, with_replies
from mutiroes.errors import Conflict, Forbidden, NotFound, ValidationError
from mutiroes.events import ical
from mutiroes.events import service as events
from mutiroes.events.models import Event, EventParticipant
from mutiroes.extensions import db
from mutiroes.pagination import clamp_page_size, envelope, paginate
from mutiroes.timeutil import to_local
from mutiroes.users.models import User

# --- helpers ---------------------------------------------------------------------------------------------------


def _is_confirmed(event_id: int, user_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(EventParticipant)
            .where(
                EventParticipant.event_id == event_id,
                EventParticipant.user_id == user_id,
                EventParticipant.status == "confirmed",
            )
        )
    )


def _commit_with_file(stored: str, *, event_id: int) -> None:
    """Commit; if that fails the file just written must not stay behind without a row pointing at it."""
    try:
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        images.delete(stored)
        if isinstance(exc, IntegrityError) and db.session.get(Event, event_id) is None:
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


# --- comments --------------------------------------------------------------------------------------------------


def get_comments(*, event_id: int, caller: User | None, page: int, page_size: int) -> dict[str, Any]:
    """Top-level comments, newest first, each with its replies: three statements per page."""
    event = events._get_visible(event_id, caller)
    page_size = clamp_page_size(page_size)
    count, rows = paginate(top_level_comments(event.id), page=page, page_size=page_size)
    return envelope(count=count, page=page, page_size=page_size, results=with_replies(list(rows)))


def create_comment(*, event_id: int, user: User, content: str, parent: int | None = None) -> EventComment:
    event = events._get_visible(event_id, user)
    if parent is not None:
        parent_comment = db.session.get(EventComment, parent)
        if parent_comment is None or parent_comment.event_id != event.id:
            raise ValidationError({"parent": ["Comentário inexistente neste evento."]})
        if parent_comment.parent_id is not None:
            raise ValidationError({"parent": ["Só é possível responder a comentários, não a respostas."]})
    comment = EventComment(event_id=event.id, user_id=user.id, parent_id=parent, content=content)
    db.session.add(comment)
    try:
        db.session.commit()
    except IntegrityError as exc:
        # the parent (or the whole event) was deleted between our read and the insert
        db.session.rollback()
        events._get_visible(event_id, user)
        raise ValidationError({"parent": ["Comentário inexistente neste evento."]}) from exc
    comment.replies = []
    return comment


def _get_comment(event_id: int, comment_id: int, caller: User) -> tuple[Event, EventComment]:
    event = events._get_visible(event_id, caller)
    comment = db.session.scalar(
        sa.select(EventComment).where(EventComment.id == comment_id, EventComment.event_id == event.id)
    )
    if comment is None:
        raise NotFound("Comentário não encontrado.")
    return event, comment


def update_comment(*, event_id: int, comment_id: int, caller: User, content: str) -> EventComment:
    """Only the author edits a comment."""
    _event, comment = _get_comment(event_id, comment_id, caller)
    if comment.user_id != caller.id:
        raise Forbidden("Apenas o autor pode editar este comentário.")
    comment.content = content
    _commit_unless_gone("Comentário não encontrado.")
    if comment.parent_id is None:
        return with_replies([comment])[0]
    comment.replies = []
    return comment


def delete_comment(*, event_id: int, comment_id: int, caller: User) -> None:
    """The author, the organizer (or staff) deletes a comment; a top-level comment takes its replies with it."""
    event, comment = _get_comment(event_id, comment_id, caller)
    if comment.user_id != caller.id and not events._can_manage(event, caller):
        raise Forbidden("Apenas o autor ou o organizador podem excluir este comentário.")
    # explicit for SQLite; PostgreSQL's ON DELETE CASCADE would do the same
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
) -> dict[str, Any]:
    event = events._get_visible(event_id, caller)
    statement = photos_of(event.id)
    if is_before is not None:
        statement = statement.where(EventPhoto.is_before.is_(is_before))
    if is_after is not None:
        statement = statement.where(EventPhoto.is_after.is_(is_after))
    page_size = clamp_page_size(page_size)
    count, rows = paginate(statement, page=page, page_size=page_size)
    return envelope(count=count, page=page, page_size=page_size, results=list(rows))


def add_photo(
    *, event_id: int, user: User, upload, caption: str = "", is_before: bool = False, is_after: bool = False
) -> EventPhoto:
    """The organizer or a confirmed participant adds a photo; nobody else's upload ever reaches the disk."""
    event = events._get_visible(event_id, user)
    if not events._can_manage(event, user) and not _is_confirmed(event.id, user.id):
        raise Forbidden("Apenas o organizador e os participantes confirmados podem enviar fotos.")
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
    event = events._get_visible(event_id, caller)
    photo = db.session.scalar(sa.select(EventPhoto).where(EventPhoto.id == photo_id, EventPhoto.event_id == event.id))
    if photo is None:
        raise NotFound("Foto não encontrada.")
    if photo.user_id != caller.id and not events._can_manage(event, caller):
        raise Forbidden("Apenas quem enviou a foto ou o organizador podem excluí-la.")
    path = photo.photo
    db.session.delete(photo)
    _commit_unless_gone("Foto não encontrada.")
    images.delete(path)


def set_cover(*, event_id: int, caller: User, upload) -> Event:
    """The organizer (or staff) replaces the cover; the previous file is removed after the commit."""
    events._get_managed(event_id, caller)
    db.session.rollback()  # no transaction stays open while the image is decoded and written
    stored = images.store(upload, folder="events/covers", field="cover_image")
    # read the previous cover only now, under a row lock: a replacement committed meanwhile is the one to remove,
    # and two simultaneous replacements cannot both think they replace the same file
    event = db.session.scalar(
        sa.select(Event)
        .where(Event.id == event_id)
        .with_for_update(of=Event.__table__)
        .execution_options(populate_existing=True)
    )
    if event is None:
        images.delete(stored)
        raise NotFound("Evento não encontrado.")
    previous = event.cover_image
    event.cover_image = stored
    _commit_with_file(stored, event_id=event_id)
    images.delete(previous)
    return events._decorate_detail(event, caller)


# --- resources and pledges -------------------------------------------------------------------------------------


def get_resources(*, event_id: int, caller: User | None) -> list[EventResource]:
    event = events._get_visible(event_id, caller)
    return list(db.session.scalars(resources_of(event.id)))


def _get_resource(event_id: int, resource_id: int) -> EventResource:
    resource = db.session.scalar(
        sa.select(EventResource).where(EventResource.id == resource_id, EventResource.event_id == event_id)
    )
    if resource is None:
        raise NotFound("Recurso não encontrado.")
    return resource


def create_resource(*, event_id: int, caller: User, data: dict[str, Any]) -> EventResource:
    event = events._get_managed(event_id, caller)
    resource = EventResource(event_id=event.id, **data)
    db.session.add(resource)
    db.session.commit()
    return resource


def update_resource(*, event_id: int, resource_id: int, caller: User, changes: dict[str, Any]) -> EventResource:
    """PUT sends every field, PATCH some. The need cannot drop below what was already pledged."""
    event = events._get_managed(event_id, caller)
    resource = _get_resource(event.id, resource_id)
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
    event = events._get_managed(event_id, caller)
    resource = _get_resource(event.id, resource_id)
    db.session.execute(sa.delete(ResourcePledge).where(ResourcePledge.resource_id == resource.id))
    db.session.delete(resource)
    _commit_unless_gone("Recurso não encontrado.")


def pledge(*, event_id: int, resource_id: int, user: User, quantity: int) -> ResourcePledge:
    """A confirmed participant promises ``quantity`` units: one conditional UPDATE takes them, so concurrent
    pledges on any number of replicas never push ``quantity_provided`` past ``quantity_needed``."""
    event = events._get_visible(event_id, user)
    resource = _get_resource(event.id, resource_id)
    if not _is_confirmed(event.id, user.id):
        raise Forbidden("Apenas participantes confirmados podem se comprometer a levar recursos.")
    if event.status in ("cancelled", "completed"):
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


# --- exports ---------------------------------------------------------------------------------------------------


def ical_export(*, event_id: int, caller: User | None) -> bytes:
    event = events._get_visible(event_id, caller)
    return ical.for_event(event, site_url=current_app.config["MUTIROES"].site_url)


CSV_HEADER = (
    "Nome",
    "E-mail",
    "Telefone",
    "Contato de emergência",
    "Telefone de emergência",
    "Status",
    "Check-in",
    "Horário do check-in",
)
STATUS_LABELS = {
    "pending": "pendente",
    "confirmed": "confirmado",
    "waitlisted": "lista de espera",
    "cancelled": "cancelado",
    "rejected": "recusado",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A spreadsheet must never run what a participant typed: cells that could start a formula get a quote."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def participants_csv(*, event_id: int, caller: User) -> bytes:
    """Every participation of the event, for the organizer (and staff): UTF-8 with BOM so accents show."""
    event = events._get_managed(event_id, caller)
    rows = db.session.scalars(
        sa.select(EventParticipant)
        .where(EventParticipant.event_id == event.id)
        .order_by(EventParticipant.registered_at, EventParticipant.id)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for participation in rows:
        person = participation.user
        check_in_time = (
            to_local(participation.check_in_time).strftime("%Y-%m-%d %H:%M") if participation.check_in_time else ""
        )
        writer.writerow(
            [
                csv_safe(value)
                for value in (
                    person.full_name,
                    person.email,
                    person.phone,
                    participation.emergency_contact,
                    participation.emergency_phone,
                    STATUS_LABELS.get(participation.status, participation.status),
                    "sim" if participation.checked_in else "não",
                    check_in_time,
                )
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_filename(event_id: int, extension: str) -> str:
    return f"mutirao-{event_id}.{extension}"
