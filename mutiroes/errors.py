"""Domain exceptions and the one handler that renders every error in the contract's DRF shape.

- 400: ``{"<field>": ["message", ...], "non_field_errors": [...]}``
- everything else: ``{"detail": "message"}`` (401 may add ``"code"``), with ``Retry-After`` on 429 and 503.

No error response ever carries an HTML page or a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, jsonify, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

NON_FIELD_ERRORS = "non_field_errors"

DEFAULT_DETAILS = {
    400: "Requisição inválida.",
    401: "As credenciais de autenticação não foram fornecidas.",
    403: "Você não tem permissão para executar esta ação.",
    404: "Não encontrado.",
    405: "Método não permitido.",
    406: "Formato de resposta não suportado.",
    409: "A operação conflita com o estado atual do recurso.",
    413: "O corpo da requisição é grande demais.",
    415: "Tipo de mídia não suportado.",
    422: "Requisição inválida.",
    429: "Muitas requisições. Tente novamente mais tarde.",
    500: "Erro interno do servidor.",
    503: "Serviço temporariamente indisponível. Tente novamente em instantes.",
}


class APIError(Exception):
    """Base of every error a service may raise; the handler renders it."""

    status_code = 400
    default_detail = DEFAULT_DETAILS[400]

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.default_detail)
        self.detail = detail or self.default_detail
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        payload: dict = {"detail": self.detail}
        if self.code:
            payload["code"] = self.code
        return payload


class ValidationError(APIError):
    """400 with messages per field: ``ValidationError({"email": ["..."]})`` or a plain message."""

    status_code = 400

    def __init__(self, messages: dict[str, list[str] | str] | str) -> None:
        if isinstance(messages, str):
            messages = {NON_FIELD_ERRORS: [messages]}
        self.messages = {k: v if isinstance(v, list) else [v] for k, v in messages.items()}
        super().__init__(DEFAULT_DETAILS[400])

    def body(self) -> dict:
        return self.messages


class Unauthorized(APIError):
    status_code = 401
    default_detail = DEFAULT_DETAILS[401]


class Forbidden(APIError):
    status_code = 403
    default_detail = DEFAULT_DETAILS[403]


class NotFound(APIError):
    status_code = 404
    default_detail = DEFAULT_DETAILS[404]


class Conflict(APIError):
    status_code = 409
    default_detail = DEFAULT_DETAILS[409]


class PayloadTooLarge(APIError):
    status_code = 413
    default_detail = DEFAULT_DETAILS[413]


class UnsupportedMediaType(APIError):
    status_code = 415
    default_detail = DEFAULT_DETAILS[415]


class Throttled(APIError):
    status_code = 429
    default_detail = DEFAULT_DETAILS[429]

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            detail or f"Muitas tentativas. Tente novamente em {retry_after} segundos.",
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(APIError):
    status_code = 503
    default_detail = DEFAULT_DETAILS[503]

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after)))})


def flatten_messages(messages) -> dict[str, list[str]]:
    """Turn webargs/marshmallow messages (``{"json": {"field": [...]}}``) into the DRF shape."""
    if isinstance(messages, list | str):
        return {NON_FIELD_ERRORS: _as_list(messages)}
    locations = {
        "json",
        "query",
        "form",
        "files",
        "multipart",
        "headers",
        "path",
        "view_args",
        "json_or_form",
        "querystring",
    }
    flat: dict[str, list] = {}
    if messages and set(messages) <= locations:
        for location_messages in messages.values():
            for field_name, field_messages in flatten_messages(location_messages).items():
                flat.setdefault(field_name, []).extend(field_messages)
        return flat
    for key, value in messages.items():
        name = NON_FIELD_ERRORS if key in ("_schema", "") else str(key)
        if isinstance(value, dict) and name != NON_FIELD_ERRORS:
            # nested or per-index errors: keep their structure under the field, as DRF does
            flat[name] = [value]
        else:
            flat.setdefault(name, []).extend(_as_list(value))
    return flat


def _as_list(value) -> list:
    if isinstance(value, list):
        return [v if isinstance(v, dict) else str(v) for v in value]
    return [str(value)]


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
    400 in the DRF shape instead, so the document says so for every operation that parses input.
    """

    def operation_helper(self, path=None, operations=None, **_kwargs):
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            had_arguments = responses.pop(422, None) or responses.pop("422", None)
            if had_arguments or "{" in (path or ""):
                responses.setdefault("400", "BAD_REQUEST")


class Api(SmorestApi):
    """flask-smorest's Api, documenting and rendering errors in the contract's shape."""

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
        register_error_handlers(self._app)

    def handle_http_exception(self, error):  # pragma: no cover - replaced by register_error_handlers
        return render_http_exception(error)


def _response(status: int, body: dict, headers: dict[str, str] | None = None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_api_error(error: APIError):
    return _response(error.status_code, error.body(), error.headers)


def render_http_exception(error: HTTPException):
    status = error.code or 500
    headers: dict[str, str] = {}
    for name, value in error.get_headers():
        if name.lower() in {"allow", "retry-after", "www-authenticate"}:
            headers[name] = value
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    if status in (400, 422) and ("messages" in data or "errors" in data):
        return _response(400, flatten_messages(data.get("errors") or data.get("messages")), headers)
    if status == 400:
        return _response(400, {NON_FIELD_ERRORS: [data.get("message") or DEFAULT_DETAILS[400]]}, headers)
    if status in (429, 503) and "Retry-After" not in headers:
        headers["Retry-After"] = "5"
    detail = data.get("message") or DEFAULT_DETAILS.get(status) or HTTPStatus(status).phrase
    return _response(status, {"detail": detail}, headers)


def render_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _response(500, {"detail": DEFAULT_DETAILS[500]})


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(APIError, render_api_error)
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(Exception, render_unexpected)
