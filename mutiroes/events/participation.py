"""Participation: joining, leaving, the waitlist, approval, check-in and the organizer's management.

Capacity and one-participation-per-user are kept by the database (see ``models``): a spot is taken by one
conditional UPDATE of ``events.confirmed_count`` and given back the same way; participations are locked with
``SELECT ... FOR UPDATE`` (PostgreSQL) before their status changes, and a UNIQUE (event, user) turns a concurrent
duplicate join into a 409. Each public function is one unit of work.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes import jobs
from mutiroes.content import public as content
from mutiroes.errors import Conflict, Forbidden, NotFound, ValidationError
from mutiroes.events import access
from mutiroes.events.models import (
    ACTIVE_PARTICIPATION_STATUSES,
    CheckInMethod,
    Event,
    EventParticipant,
    EventStatus,
    ExperienceLevel,
    ParticipationStatus,
)
from mutiroes.models import commit_keeping_loaded, db, paginate
from mutiroes.timeutil import local_today, utcnow
from mutiroes.users.models import User

NOTIFICATION_JOB = "send_event_notification_email"
CHECK_IN_OPENS_BEFORE = dt.timedelta(minutes=60)


def notify(event: Event, user_id: int, notification_type: str, **snapshot: str | int) -> None:
    jobs.request(NOTIFICATION_JOB, event_id=event.id, user_id=user_id, notification_type=notification_type, **snapshot)


def _claim_spot(event_id: int) -> bool:
    """Take one confirmed spot if one is left: a single conditional UPDATE, so no two requests get the last one."""
    result = db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.confirmed_count < Event.max_participants)
        .values(confirmed_count=Event.confirmed_count + 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _release_spot(event_id: int) -> None:
    db.session.execute(
        sa.update(Event)
        .where(Event.id == event_id, Event.confirmed_count > 0)
        .values(confirmed_count=Event.confirmed_count - 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False)
    )


def _end_participation(event: Event, participation: EventParticipant, *, status: ParticipationStatus | None) -> None:
    """Cancel or reject (``status``) or delete (``None``) a participation; a confirmed one hands its spot on, and
    what the person had pledged to bring is needed again."""
    was_confirmed = participation.status == ParticipationStatus.CONFIRMED
    content.release_pledges(event_id=event.id, user_id=participation.user_id)
    if status is None:
        db.session.delete(participation)
    else:
        participation.status = status
        participation.waitlisted_at = None
    db.session.flush()
    if was_confirmed:
        _release_spot(event.id)
        promote_from_waitlist(event)


def release(event: Event, participation: EventParticipant) -> None:
    """Cancel a participation on the person's behalf (their account is being erased); a confirmed spot goes to the
    waitlist as if they had left."""
    _end_participation(event, participation, status=ParticipationStatus.CANCELLED)


def _locked_participation(*, event_id: int, user_id: int | None = None, pid: int | None = None):
    statement = sa.select(EventParticipant).where(EventParticipant.event_id == event_id)
    if user_id is not None:
        statement = statement.where(EventParticipant.user_id == user_id)
    if pid is not None:
        statement = statement.where(EventParticipant.id == pid)
    statement = statement.with_for_update(of=EventParticipant.__table__).execution_options(populate_existing=True)
    return db.session.scalars(statement).first()


def promote_from_waitlist(event: Event) -> list[int]:
    """Give free spots to the earliest waitlisted participants; returns the promoted user ids."""
    if event.status != EventStatus.PUBLISHED or utcnow() >= event.end_date:
        return []
    promoted = []
    while True:
        candidate = db.session.scalars(
            sa.select(EventParticipant)
            .where(EventParticipant.event_id == event.id, EventParticipant.status == ParticipationStatus.WAITLISTED)
            .order_by(EventParticipant.waitlisted_at, EventParticipant.id)
            .limit(1)
            .with_for_update(of=EventParticipant.__table__, skip_locked=True)
        ).first()
        if candidate is None or not _claim_spot(event.id):
            break
        candidate.status = ParticipationStatus.CONFIRMED
        candidate.waitlisted_at = None
        db.session.flush()
        notify(event, candidate.user_id, "promoted")
        promoted.append(candidate.user_id)
    return promoted


def _waitlist_positions(event_id: int, participation_ids: list[int]) -> dict[int, int]:
    """1-based places in the current waitlist, in one statement."""
    if not participation_ids:
        return {}
    ranked = (
        sa.select(
            EventParticipant.id.label("id"),
            sa.func.row_number().over(order_by=(EventParticipant.waitlisted_at, EventParticipant.id)).label("position"),
        )
        .where(EventParticipant.event_id == event_id, EventParticipant.status == ParticipationStatus.WAITLISTED)
        .subquery()
    )
    rows = db.session.execute(sa.select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_(participation_ids)))
    return {row.id: row.position for row in rows}


def with_positions(participations: list[EventParticipant]) -> list[EventParticipant]:
    by_event: dict[int, list[int]] = {}
    for participation in participations:
        participation.waitlist_position = None
        if participation.status == ParticipationStatus.WAITLISTED:
            by_event.setdefault(participation.event_id, []).append(participation.id)
    for event_id, ids in by_event.items():
        positions = _waitlist_positions(event_id, ids)
        for participation in participations:
            if participation.id in positions:
                participation.waitlist_position = positions[participation.id]
    return participations


def participant_ids(event_id: int, statuses: tuple[ParticipationStatus, ...]) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(EventParticipant.user_id).where(
                EventParticipant.event_id == event_id, EventParticipant.status.in_(statuses)
            )
        )
    )


def _check_age(event: Event, user: User) -> None:
    """An event with an age range takes only people whose age is known to be in it."""
    if event.min_age is None and event.max_age is None:
        return
    age = user.age_on(local_today())
    if age is None:
        raise Conflict("Este evento tem faixa etária: informe sua data de nascimento no perfil para se inscrever.")
    if (event.min_age is not None and age < event.min_age) or (event.max_age is not None and age > event.max_age):
        raise Conflict("Sua idade está fora da faixa etária deste evento.")


def join(*, event_id: int, user: User, details: dict[str, Any]) -> EventParticipant:
    """Join an event: pending (approval), confirmed (a spot was free), waitlisted (full), or 409.

    The organizer may join their own event too (the original system allows it): confirmed without approval, taking
    a spot like anyone else.
    """
    event = access.get_visible(event_id, user)
    now = utcnow()
    if event.status in (EventStatus.CANCELLED, EventStatus.COMPLETED):
        raise Conflict("Este evento foi cancelado ou já foi concluído.")
    if not event.is_registration_open(now):
        raise Conflict("As inscrições para este evento estão encerradas.")
    _check_age(event, user)

    participation = _locked_participation(event_id=event.id, user_id=user.id)
    if participation is not None and participation.status in ACTIVE_PARTICIPATION_STATUSES:
        raise Conflict("Você já está inscrito neste evento.")
    if participation is not None and participation.status == ParticipationStatus.REJECTED:
        raise Conflict("Sua inscrição neste evento foi recusada pelo organizador.")

    if event.requires_approval and event.organizer_id != user.id:
        status = ParticipationStatus.PENDING
    elif _claim_spot(event.id):
        status = ParticipationStatus.CONFIRMED
    elif event.waitlist_enabled:
        status = ParticipationStatus.WAITLISTED
    else:
        db.session.rollback()
        raise Conflict("O evento está lotado.")

    fields = {
        "status": status,
        "waitlisted_at": now if status == ParticipationStatus.WAITLISTED else None,
        "registered_at": now,
        "checked_in": False,
        "check_in_time": None,
        "checked_in_by_id": None,
        "emergency_contact": details.get("emergency_contact", ""),
        "emergency_phone": details.get("emergency_phone", ""),
        "special_needs": details.get("special_needs", ""),
        "experience_level": details.get("experience_level", ExperienceLevel.BEGINNER),
    }
    if participation is None:
        participation = EventParticipant(event_id=event.id, user_id=user.id, **fields)
        db.session.add(participation)
    else:  # a cancelled participation comes back: one row per user and event
        for name, value in fields.items():
            setattr(participation, name, value)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # the same user's other request inserted first; rolling back also returns the spot we took
        db.session.rollback()
        raise Conflict("Você já está inscrito neste evento.") from exc
    notify(event, user.id, "pending" if status == ParticipationStatus.PENDING else "joined")
    # the answer's place on the waitlist is the one this transaction made
    with_positions([participation])
    commit_keeping_loaded()
    return participation


def leave(*, event_id: int, user: User) -> None:
    """Cancel one's participation; a freed spot goes to the earliest waitlisted person."""
    event = access.get_visible(event_id, user)
    participation = _locked_participation(event_id=event.id, user_id=user.id)
    if participation is None or participation.status not in ACTIVE_PARTICIPATION_STATUSES:
        raise NotFound("Você não está inscrito neste evento.")
    if participation.checked_in:
        raise Conflict("Você já fez check-in neste evento.")
    _end_participation(event, participation, status=ParticipationStatus.CANCELLED)
    db.session.commit()


def check_in(*, event_id: int, caller: User, code: str | None = None, user_id: int | None = None) -> EventParticipant:
    """Check in oneself (with the event's code when it requires one) or, as organizer, a participant."""
    event = access.get_visible(event_id, caller)
    manager = access.can_manage(event, caller)
    for_someone_else = user_id is not None and user_id != caller.id
    if for_someone_else and not manager:
        raise Forbidden("Apenas o organizador pode fazer o check-in de outra pessoa.")
    target_id = user_id if for_someone_else else caller.id
    participation = _locked_participation(event_id=event.id, user_id=target_id)
    if participation is None or participation.status != ParticipationStatus.CONFIRMED:
        raise NotFound("Inscrição confirmada não encontrada neste evento.")
    if event.status != EventStatus.PUBLISHED:
        raise Conflict("O check-in só é possível em eventos publicados.")
    now = utcnow()
    if not (event.start_date - CHECK_IN_OPENS_BEFORE <= now <= event.end_date):
        raise Conflict("O check-in abre 60 minutos antes do início e fecha no fim do evento.")
    if participation.checked_in:
        raise Conflict("O check-in já foi feito.")
    if event.require_check_in_code and not for_someone_else:
        given = (code or "").strip().upper()
        if not hmac.compare_digest(given.encode(), event.check_in_code.upper().encode()):
            raise Forbidden("Código de check-in inválido.")
    # who vouched for this presence decides how many hours it can earn (docs/accounts.md)
    if for_someone_else:
        method = CheckInMethod.ORGANIZER
    elif event.require_check_in_code:
        method = CheckInMethod.CODE
    else:
        method = CheckInMethod.SELF
    done = db.session.execute(
        sa.update(EventParticipant)
        .where(EventParticipant.id == participation.id, EventParticipant.checked_in.is_(False))
        .values(checked_in=True, check_in_time=now, checked_in_by_id=caller.id, check_in_method=method, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        db.session.rollback()
        raise Conflict("O check-in já foi feito.")
    db.session.commit()
    return with_positions([participation])[0]


def get_participants(
    *, event_id: int, caller: User, page: int, page_size: int, status: str | None = None
) -> tuple[int, list[EventParticipant]]:
    event = access.get_managed(event_id, caller)
    statement = sa.select(EventParticipant).where(EventParticipant.event_id == event.id)
    if status:
        statement = statement.where(EventParticipant.status == status)
    statement = statement.order_by(EventParticipant.registered_at, EventParticipant.id)
    count, rows = paginate(statement, page=page, page_size=page_size)
    return count, with_positions(rows)


def _participation_for(event_id: int, pid: int, caller: User, *, lock: bool = False) -> tuple[Event, Any]:
    event = access.get_visible(event_id, caller)
    if lock:
        participation = _locked_participation(event_id=event.id, pid=pid)
    else:
        participation = db.session.scalar(
            sa.select(EventParticipant).where(EventParticipant.id == pid, EventParticipant.event_id == event.id)
        )
    if participation is None:
        raise NotFound("Inscrição não encontrada.")
    if participation.user_id != caller.id and not access.can_manage(event, caller):
        raise Forbidden("Esta inscrição é de outra pessoa.")
    return event, participation


def authorize_participation(*, event_id: int, pid: int, caller: User) -> EventParticipant:
    """The participation's own participant, or the event's organizer (and staff); anyone else → 403."""
    return _participation_for(event_id, pid, caller)[1]


def get_participation(*, event_id: int, pid: int, caller: User) -> EventParticipant:
    _event, participation = _participation_for(event_id, pid, caller)
    return with_positions([participation])[0]


def update_participation(*, event_id: int, pid: int, caller: User, changes: dict[str, Any]) -> EventParticipant:
    """The organizer confirms or rejects; the participant edits their emergency details.

    A field sent with the value it already has changes nothing and needs no right: either side may send back the
    participation as it got it, with only its own fields changed.
    """
    event, participation = _participation_for(event_id, pid, caller, lock=True)
    manager = access.can_manage(event, caller)
    own = participation.user_id == caller.id
    changes = {name: value for name, value in changes.items() if getattr(participation, name) != value}
    status = changes.pop("status", None)
    if status is not None and not manager:
        raise Forbidden("Apenas o organizador pode confirmar ou recusar inscrições.")
    if changes and not own:
        raise Forbidden("Apenas o participante pode alterar os próprios dados de emergência.")
    if status is not None and status not in (ParticipationStatus.CONFIRMED, ParticipationStatus.REJECTED):
        raise ValidationError({"status": ["Use confirmed ou rejected."]})
    for name, value in changes.items():
        setattr(participation, name, value)
    if status == ParticipationStatus.CONFIRMED and participation.status != ParticipationStatus.CONFIRMED:
        if participation.status not in (ParticipationStatus.PENDING, ParticipationStatus.WAITLISTED):
            raise Conflict("Só inscrições pendentes ou em lista de espera podem ser confirmadas.")
        if not _claim_spot(event.id):
            db.session.rollback()
            raise Conflict("O evento está lotado.")
        participation.status = ParticipationStatus.CONFIRMED
        participation.waitlisted_at = None
        notify(event, participation.user_id, "approved")
    elif status == ParticipationStatus.REJECTED and participation.status != ParticipationStatus.REJECTED:
        if participation.status == ParticipationStatus.CANCELLED:
            raise Conflict("O participante já cancelou esta inscrição.")
        if participation.checked_in:
            raise Conflict("O participante já fez check-in.")
        _end_participation(event, participation, status=ParticipationStatus.REJECTED)
        notify(event, participation.user_id, "rejected")
    db.session.flush()
    db.session.commit()
    return with_positions([participation])[0]


def delete_participation(*, event_id: int, pid: int, caller: User) -> None:
    """The organizer removes a participation altogether (its spot is freed)."""
    event, participation = _participation_for(event_id, pid, caller, lock=True)
    if not access.can_manage(event, caller):
        raise Forbidden("Apenas o organizador pode remover inscrições.")
    _end_participation(event, participation, status=None)
    db.session.commit()
