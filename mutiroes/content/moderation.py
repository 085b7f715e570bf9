"""Moderation of comments and photos: reports, the three-report rule, the moderators' queue and their decisions.
Each public function is one unit of work.

- Anyone who sees a comment or photo may report it, once (UNIQUE per person and item); not their own.
- When ``AUTO_HIDE_REPORTERS`` different people have open reports on an item, it is hidden until reviewed. The item's
  row is locked while a report is added and counted, so simultaneous reports are counted one after the other.
- Moderators are staff, and each event's organizing team for that event's items (``access.can_manage``); nobody
  reviews the reports on their own comment or photo but staff.
- ``hide`` hides the item and closes its open reports; ``restore`` shows it and closes them as kept; ``dismiss`` sets
  one report aside, and an item hidden by reports shows again once fewer than three open reports remain.
- Hidden items are left out of every list and detail for everyone but their author and the moderators
  (``public.shown_to``). Reports filed after a review count afresh.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from mutiroes.content.models import ContentReport, EventComment, EventPhoto, ReportStatus, Visibility
from mutiroes.content.service import shown
from mutiroes.errors import Conflict, Forbidden, NotFound
from mutiroes.events import access
from mutiroes.events.models import Event
from mutiroes.models import db
from mutiroes.platform import images
from mutiroes.timeutil import utcnow
from mutiroes.users.models import User

AUTO_HIDE_REPORTERS = 3


class ItemType(enum.StrEnum):
    COMMENT = "comment"
    PHOTO = "photo"


class Action(enum.StrEnum):
    HIDE = "hide"
    RESTORE = "restore"
    DISMISS = "dismiss"


MODELS = {ItemType.COMMENT: EventComment, ItemType.PHOTO: EventPhoto}
ITEM_COLUMNS = {ItemType.COMMENT: ContentReport.comment_id, ItemType.PHOTO: ContentReport.photo_id}
NOT_FOUND = {ItemType.COMMENT: "Comentário não encontrado.", ItemType.PHOTO: "Foto não encontrada."}
OWN_ITEM = {
    ItemType.COMMENT: "Você não pode denunciar o próprio comentário.",
    ItemType.PHOTO: "Você não pode denunciar a própria foto.",
}
ALREADY_REPORTED = {
    ItemType.COMMENT: "Você já denunciou este comentário.",
    ItemType.PHOTO: "Você já denunciou esta foto.",
}


@dataclass
class QueueItem:
    """A reported comment or photo with its reports, as the queue shows it."""

    item_type: str
    item_id: int
    event_id: int
    event_title: str
    author_id: int
    author_name: str
    content: str  # the comment, or the photo's caption
    photo: str | None  # the photo's absolute URL
    visibility: str
    created_at: dt.datetime
    reports: list[ContentReport] = field(default_factory=list)

    @property
    def open_reports_count(self) -> int:
        return sum(1 for report in self.reports if report.status == ReportStatus.OPEN)


def _type_of(report: ContentReport) -> ItemType:
    return ItemType.COMMENT if report.comment_id is not None else ItemType.PHOTO


def _locked_item(item_type: ItemType, item_id: int, condition=sa.true()):
    model = MODELS[item_type]
    return db.session.scalar(
        sa.select(model)
        .where(model.id == item_id, condition)
        .with_for_update(of=model.__table__)
        .execution_options(populate_existing=True)
    )


def _open_reporters(item_type: ItemType, item_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(ContentReport.reporter_id))).where(
            ITEM_COLUMNS[item_type] == item_id, ContentReport.status == ReportStatus.OPEN
        )
    )


def report(
    *, event_id: int, item_type: ItemType, item_id: int, user: User, reason: str, details: str = ""
) -> ContentReport:
    """Report a comment or photo the caller sees; the third person's open report hides it until reviewed."""
    event = access.get_visible(event_id, user)
    model = MODELS[item_type]
    item = _locked_item(item_type, item_id, sa.and_(model.event_id == event.id, shown(model, event, user)))
    if item is None:
        raise NotFound(NOT_FOUND[item_type])
    if item.user_id == user.id:
        raise Conflict(OWN_ITEM[item_type])
    filed = ContentReport(
        event_id=event.id,
        reporter_id=user.id,
        reason=reason,
        details=details.strip(),
        **{ITEM_COLUMNS[item_type].key: item.id},
    )
    db.session.add(filed)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(ALREADY_REPORTED[item_type]) from exc
    if item.visibility == Visibility.VISIBLE and _open_reporters(item_type, item.id) >= AUTO_HIDE_REPORTERS:
        item.visibility = Visibility.HIDDEN_BY_REPORTS
    db.session.commit()
    return filed


# --- the queue -------------------------------------------------------------------------------------------------


def _scope(caller: User) -> sa.ColumnElement[bool]:
    """The reports the caller moderates: every one for staff, their events' for an organizing team."""
    if caller.is_staff:
        return sa.true()
    return ContentReport.event_id.in_(sa.select(Event.id).where(access.organized_by(caller.id)))


def _queue_items(keys: list[tuple[ItemType, int]]) -> list[QueueItem]:
    """The items named by ``keys`` with all their reports (newest first), in the order of ``keys``: four
    statements whatever the page size."""
    wanted = {kind: [item_id for k, item_id in keys if k == kind] for kind in ItemType}
    items: dict[tuple[ItemType, int], QueueItem] = {}
    for kind, ids in wanted.items():
        if not ids:
            continue
        model = MODELS[kind]
        rows = db.session.execute(
            sa.select(model, Event.title).join(Event, Event.id == model.event_id).where(model.id.in_(ids))
        ).all()
        for item, event_title in rows:
            items[(kind, item.id)] = QueueItem(
                item_type=kind.value,
                item_id=item.id,
                event_id=item.event_id,
                event_title=event_title,
                author_id=item.user_id,
                author_name=item.user.full_name,
                content=item.content if kind == ItemType.COMMENT else item.caption,
                photo=images.absolute_url(item.photo) if kind == ItemType.PHOTO else None,
                visibility=item.visibility,
                created_at=item.created_at,
            )
    conditions = [ITEM_COLUMNS[kind].in_(ids) for kind, ids in wanted.items() if ids]
    if conditions:
        reports = db.session.scalars(
            sa.select(ContentReport)
            .where(sa.or_(*conditions))
            .order_by(ContentReport.created_at.desc(), ContentReport.id.desc())
        )
        for filed in reports:
            key = (_type_of(filed), filed.comment_id or filed.photo_id)
            if key in items:
                items[key].reports.append(filed)
    return [items[key] for key in keys if key in items]


def get_queue(*, caller: User, page: int, page_size: int, status: str = "open") -> tuple[int, list[QueueItem]]:
    """Reported items the caller moderates, the most recently reported first; ``status="open"`` keeps those with a
    report still waiting for review, ``"all"`` every reported item. Someone who moderates nothing gets no item."""
    conditions = [_scope(caller)]
    if status == "open":
        conditions.append(ContentReport.status == ReportStatus.OPEN)
    grouped = (
        sa.select(
            ContentReport.comment_id,
            ContentReport.photo_id,
            sa.func.max(ContentReport.created_at).label("last_reported"),
        )
        .where(*conditions)
        .group_by(ContentReport.comment_id, ContentReport.photo_id)
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(grouped.subquery()))
    rows = db.session.execute(
        grouped.order_by(sa.desc("last_reported"), ContentReport.comment_id, ContentReport.photo_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    keys = [
        (ItemType.COMMENT, row.comment_id) if row.comment_id is not None else (ItemType.PHOTO, row.photo_id)
        for row in rows
    ]
    return count, _queue_items(keys)


def authorize_review(*, report_id: int, caller: User) -> ContentReport:
    """The report, when the caller moderates its event (staff, the organizing team): 404 or 403 otherwise."""
    filed = db.session.get(ContentReport, report_id)
    if filed is None:
        raise NotFound("Denúncia não encontrada.")
    if not access.can_manage(access.get_event(filed.event_id), caller):
        raise Forbidden("Apenas a moderação (equipe do Mutirões e organização do evento) revisa denúncias.")
    return filed


def review(*, report_id: int, caller: User, action: str) -> QueueItem:
    """A moderator decides on a report: ``hide`` or ``restore`` the item (closing its open reports), or ``dismiss``
    this one report. Returns the item as the queue shows it now."""
    filed = authorize_review(report_id=report_id, caller=caller)
    item_type = _type_of(filed)
    item_id = filed.comment_id or filed.photo_id
    item = _locked_item(item_type, item_id)
    if item is None:
        raise NotFound(NOT_FOUND[item_type])
    if item.user_id == caller.id and not caller.is_staff:
        raise Forbidden("Quem publicou o conteúdo não revisa as denúncias sobre ele.")
    now = utcnow()
    reviewed = {"reviewed_at": now, "reviewed_by_id": caller.id}
    open_reports = sa.update(ContentReport).where(
        ITEM_COLUMNS[item_type] == item_id, ContentReport.status == ReportStatus.OPEN
    )
    if action == Action.DISMISS:
        db.session.refresh(filed, with_for_update=True)
        if filed.status != ReportStatus.OPEN:
            raise Conflict("Esta denúncia já foi revisada.")
        filed.status = ReportStatus.DISMISSED
        filed.reviewed_at, filed.reviewed_by_id = now, caller.id
        db.session.flush()
        if (
            item.visibility == Visibility.HIDDEN_BY_REPORTS
            and _open_reporters(item_type, item_id) < AUTO_HIDE_REPORTERS
        ):
            item.visibility = Visibility.VISIBLE
    else:
        hide = action == Action.HIDE
        item.visibility = Visibility.HIDDEN if hide else Visibility.VISIBLE
        db.session.execute(
            open_reports.values(
                status=ReportStatus.HIDDEN if hide else ReportStatus.RESTORED, **reviewed
            ).execution_options(synchronize_session=False)
        )
    db.session.commit()
    return _queue_items([(item_type, item_id)])[0]
