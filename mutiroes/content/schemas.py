"""Event content: what comes in and what goes out."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate
from werkzeug.datastructures import FileStorage

from mutiroes.content.models import (
    COMMENT_MAX_LENGTH,
    REPORT_DETAILS_MAX_LENGTH,
    ReportReason,
    ReportStatus,
    ResourceType,
    Visibility,
)
from mutiroes.platform import images
from mutiroes.schemas import (
    BaseSchema,
    Integer,
    LocalDateTime,
    PaginationArgsSchema,
    accepts_back,
    id_field,
    page_schema,
)

IMAGE_RULES = "JPEG, PNG ou WebP (pelo conteúdo), até 10 MB e 40 megapixels; EXIF removido."
MAX_QUANTITY = 1_000_000


class ImageUpload(Upload):
    """A file part of the multipart body; a plain form field of the same name is not a file."""

    default_error_messages = {"invalid": "Envie um arquivo de imagem neste campo."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


# --- out -------------------------------------------------------------------------------------------------------


class ReplySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    content = ma.fields.String(required=True)
    user_id = ma.fields.Integer(required=True)
    user_name = ma.fields.Function(lambda c: c.user.full_name, required=True)
    user_avatar = ma.fields.Function(lambda c: images.absolute_url(c.user.avatar), allow_none=True, required=True)
    parent = ma.fields.Integer(attribute="parent_id", allow_none=True, required=True)
    is_hidden = ma.fields.Function(
        lambda item: item.visibility != Visibility.VISIBLE,
        required=True,
        metadata={"description": "Hidden by moderation: shown only to its author and the event's moderators."},
    )
    replies = ma.fields.List(
        ma.fields.Dict(), required=True, metadata={"description": "Always empty: replies have no replies."}
    )
    created_at = LocalDateTime(required=True)
    updated_at = LocalDateTime(required=True)


class CommentSchema(ReplySchema):
    replies = ma.fields.List(
        ma.fields.Nested(ReplySchema),
        required=True,
        metadata={"description": "The latest 3 replies, oldest first among them (all of them: .../replies/)."},
    )
    replies_count = ma.fields.Integer(required=True, metadata={"description": "How many replies there are in all."})


CommentPageSchema = page_schema(CommentSchema, "CommentPage")
ReplyPageSchema = page_schema(ReplySchema, "ReplyPage")


class PhotoSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    photo = ma.fields.Function(lambda p: images.absolute_url(p.photo), required=True)
    caption = ma.fields.String(required=True)
    is_before = ma.fields.Boolean(required=True)
    is_after = ma.fields.Boolean(required=True)
    user_id = ma.fields.Integer(required=True)
    user_name = ma.fields.Function(lambda p: p.user.full_name, required=True)
    is_hidden = ma.fields.Function(
        lambda item: item.visibility != Visibility.VISIBLE,
        required=True,
        metadata={"description": "Hidden by moderation: shown only to its author and the event's moderators."},
    )
    created_at = LocalDateTime(required=True)


PhotoPageSchema = page_schema(PhotoSchema, "PhotoPage")


class ResourceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    resource_type = ma.fields.String(required=True, metadata={"enum": list(ResourceType)})
    quantity_needed = ma.fields.Integer(required=True)
    quantity_provided = ma.fields.Integer(required=True)
    unit = ma.fields.String(required=True)
    is_fully_provided = ma.fields.Boolean(required=True)


class PledgeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    resource = ma.fields.Nested(ResourceSchema, required=True)
    user_id = ma.fields.Integer(required=True)
    user_name = ma.fields.Function(lambda p: p.user.full_name, required=True)
    quantity = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)


class ContentReportSchema(ma.Schema):
    """A report, as its reporter and the moderators see it (who filed it is not shown)."""

    id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, metadata={"enum": list(ReportReason)})
    details = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(ReportStatus)})
    created_at = LocalDateTime(required=True)
    reviewed_at = LocalDateTime(allow_none=True, required=True)


class ModerationItemSchema(ma.Schema):
    item_type = ma.fields.String(required=True, metadata={"enum": ["comment", "photo"]})
    item_id = ma.fields.Integer(required=True)
    event_id = ma.fields.Integer(required=True)
    event_title = ma.fields.String(required=True)
    author_id = ma.fields.Integer(required=True)
    author_name = ma.fields.String(required=True)
    content = ma.fields.String(required=True, metadata={"description": "The comment, or the photo's caption."})
    photo = ma.fields.String(allow_none=True, required=True, metadata={"description": "Photos only: its URL."})
    visibility = ma.fields.String(required=True, metadata={"enum": list(Visibility)})
    open_reports_count = ma.fields.Integer(required=True)
    created_at = LocalDateTime(required=True)
    reports = ma.fields.List(
        ma.fields.Nested(ContentReportSchema), required=True, metadata={"description": "Newest first."}
    )


ModerationPageSchema = page_schema(ModerationItemSchema, "ModerationPage")


# --- in --------------------------------------------------------------------------------------------------------


def _content(**kwargs) -> ma.fields.String:
    return ma.fields.String(
        validate=validate.Length(
            min=1, max=COMMENT_MAX_LENGTH, error="O comentário deve ter de {min} a {max} caracteres."
        ),
        **kwargs,
    )


class CommentCreateSchema(BaseSchema):
    content = _content(required=True)
    parent = id_field(allow_none=True, metadata={"description": "A top-level comment of the same event."})

    @ma.validates("content")
    def not_blank(self, value, **_kwargs):
        if not value.strip():
            raise ma.ValidationError("O comentário não pode estar em branco.")


@accepts_back(CommentSchema)
class CommentUpdateSchema(BaseSchema):
    content = _content(required=True)

    @ma.validates("content")
    def not_blank(self, value, **_kwargs):
        if not value.strip():
            raise ma.ValidationError("O comentário não pode estar em branco.")


class PhotoUploadSchema(BaseSchema):
    """multipart/form-data: the file and its form fields."""

    photo = ImageUpload(required=True, metadata={"description": IMAGE_RULES})
    caption = ma.fields.String(
        load_default="", validate=validate.Length(max=300, error="Use no máximo {max} caracteres.")
    )
    is_before = ma.fields.Boolean(load_default=False)
    is_after = ma.fields.Boolean(load_default=False)

    @ma.validates_schema
    def before_or_after(self, data, **_kwargs):
        if data.get("is_before") and data.get("is_after"):
            raise ma.ValidationError("Uma foto não pode ser de antes e de depois ao mesmo tempo.", "is_after")


class CoverUploadSchema(BaseSchema):
    cover_image = ImageUpload(required=True, metadata={"description": IMAGE_RULES})


def _resource_fields(*, partial: bool) -> dict[str, ma.fields.Field]:
    def required(**kwargs):
        return {} if partial else {"required": True, **kwargs}

    def default(value):
        return {} if partial else {"load_default": value}

    return {
        "name": ma.fields.String(
            validate=validate.Length(min=1, max=200, error="Use de {min} a {max} caracteres."), **required()
        ),
        "description": ma.fields.String(
            validate=validate.Length(max=5000, error="Use no máximo {max} caracteres."), **default("")
        ),
        "resource_type": ma.fields.String(
            validate=validate.OneOf(tuple(ResourceType), error="Use tool, material, equipment ou other."),
            **default(ResourceType.OTHER),
        ),
        "quantity_needed": Integer(
            validate=validate.Range(min=1, max=MAX_QUANTITY, error="Informe um número entre {min} e {max}."),
            **required(),
        ),
        "unit": ma.fields.String(
            validate=validate.Length(max=50, error="Use no máximo {max} caracteres."), **default("")
        ),
    }


ResourceCreateSchema = accepts_back(ResourceSchema)(
    type(
        "ResourceCreateSchema",
        (BaseSchema,),
        {"__doc__": "A new resource (also the body of PUT).", **_resource_fields(partial=False)},
    )
)
ResourceUpdateSchema = accepts_back(ResourceSchema)(
    type(
        "ResourceUpdateSchema",
        (BaseSchema,),
        {"__doc__": "Any subset of the resource fields (PATCH).", **_resource_fields(partial=True)},
    )
)


class PledgeCreateSchema(BaseSchema):
    quantity = Integer(
        required=True,
        validate=validate.Range(min=1, max=MAX_QUANTITY, error="Informe uma quantidade entre {min} e {max}."),
    )


class CommentArgsSchema(PaginationArgsSchema):
    pass


class ReplyArgsSchema(PaginationArgsSchema):
    pass


class PhotoArgsSchema(PaginationArgsSchema):
    is_before = ma.fields.Boolean()
    is_after = ma.fields.Boolean()


class ReportCreateSchema(BaseSchema):
    reason = ma.fields.String(
        required=True,
        validate=validate.OneOf(tuple(ReportReason), error="Use spam, offensive, personal_data ou other."),
    )
    details = ma.fields.String(
        load_default="",
        validate=validate.Length(max=REPORT_DETAILS_MAX_LENGTH, error="Use no máximo {max} caracteres."),
    )


class ModerationArgsSchema(PaginationArgsSchema):
    status = ma.fields.String(
        load_default="open",
        validate=validate.OneOf(("open", "all"), error="Use open ou all."),
        metadata={"description": "`open` (default): items with a report waiting for review; `all`: every one."},
    )


@accepts_back(ModerationItemSchema)  # a moderator's client may send the queue item back with its decision
class ModerationActionSchema(BaseSchema):
    action = ma.fields.String(
        required=True, validate=validate.OneOf(("hide", "restore", "dismiss"), error="Use hide, restore ou dismiss.")
    )
