"""flask-smorest's Api, documenting and rendering errors in the contract's shape."""

from __future__ import annotations

import marshmallow as ma
from apispec import BasePlugin
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response

from mutiroes.web import errors


class ValidationErrorSchema(ma.Schema):
    """400: messages per field, as DRF does (documentation only)."""

    class Meta:
        unknown = ma.INCLUDE

    non_field_errors = ma.fields.List(ma.fields.String())


class DetailErrorSchema(ma.Schema):
    """Any error other than 400 (documentation only)."""

    detail = ma.fields.String(required=True)
    code = ma.fields.String()


class DRFErrorsPlugin(BasePlugin):
    """Document validation errors as they are sent: status 400 with messages per field.

    webargs documents 422 (and flask-smorest the "detail" shape) for every parsed argument; our handler answers
    400 in the DRF shape instead, so the document says so for every operation that parses input. (A path id that is
    not a positive integer matches no route: 404, under "default" with every other error.)
    """

    def operation_helper(self, path=None, operations=None, **_kwargs):
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if responses.pop(422, None) or responses.pop("422", None):
                responses.setdefault("400", "BAD_REQUEST")


class Api(SmorestApi):
    ERROR_SCHEMA = DetailErrorSchema

    def _init_spec(self, *, extra_plugins=None, **kwargs):
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), DRFErrorsPlugin()], **kwargs)

    def _register_responses(self):
        super()._register_responses()
        # the lazily registered 400 says "detail"; ours carries messages per field
        self.spec.components.responses_lazy.pop("BAD_REQUEST", None)
        response = {
            "description": "Dados inválidos: mensagens por campo (non_field_errors para as demais).",
            "schema": ValidationErrorSchema,
        }
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response("BAD_REQUEST", response, lazy=True)

    def _register_error_handlers(self):
        errors.init_app(self._app)
