"""The exceptions services raise; ``mutiroes.web.errors`` renders them in the contract's DRF shape.

- 400: ``{"<field>": ["message", ...], "non_field_errors": [...]}``
- everything else: ``{"detail": "message"}`` (401 may add ``"code"``), with ``Retry-After`` on 429 and 503.
"""

from __future__ import annotations

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
