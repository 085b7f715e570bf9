"""JWT wiring: which tokens are accepted, who the caller is, and the 401 bodies.

Every access or refresh token carries ``sid``, the login session it belongs to. A token is accepted only while its
session is live in the database; one primary-key read per authenticated request also loads the user.
"""

from __future__ import annotations

import functools
import inspect

from flask import Flask, g
from flask_jwt_extended import (
    JWTManager,
    current_user,
    get_jwt,
    get_jwt_identity,
    jwt_required,
    verify_jwt_in_request,
)
from flask_smorest import Blueprint

from mutiroes.errors import Forbidden, Unauthorized
from mutiroes.models import db
from mutiroes.timeutil import utcnow
from mutiroes.users.models import AuthSession, User
from mutiroes.web.errors import render_api_error

TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 - an error code, not a secret
BEARER_SECURITY = [{"bearerAuth": []}]

__all__ = [
    "allowed",
    "auth_required",
    "caller_id",
    "optional_auth",
    "current_user",
    "get_jwt",
    "staff_required",
    "init_app",
]

jwt = JWTManager()


def _unauthorized(detail: str, code: str | None = TOKEN_NOT_VALID):
    response = render_api_error(Unauthorized(detail, code=code))
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def init_app(app: Flask) -> None:
    """Accept a token only while its login session is live; answer token problems with the contract's 401."""
    jwt.init_app(app)

    @jwt.token_in_blocklist_loader
    def session_is_revoked(_header, payload) -> bool:
        sid = payload.get("sid")
        if not sid:
            return True
        row = db.session.execute(
            db.select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(AuthSession.id == sid)
        ).first()
        if row is None:
            return True
        session, user = row
        if session.revoked_at is not None or session.expires_at <= utcnow() or not user.is_active:
            return True
        if str(user.id) != payload.get("sub"):
            return True
        g.mutiroes_user = user
        return False

    @jwt.user_lookup_loader
    def load_user(_header, payload):
        user = g.get("mutiroes_user")
        if user is not None and str(user.id) == payload.get("sub"):
            return user
        return db.session.get(User, int(payload["sub"]))

    @jwt.unauthorized_loader
    def missing_token(_reason):
        return _unauthorized("As credenciais de autenticação não foram fornecidas.", code=None)

    @jwt.invalid_token_loader
    def invalid_token(_reason):
        return _unauthorized("O token informado não é válido.")

    @jwt.expired_token_loader
    def expired_token(_header, _payload):
        return _unauthorized("O token expirou.")

    @jwt.revoked_token_loader
    def revoked_token(_header, _payload):
        return _unauthorized("O token foi revogado.")

    @jwt.user_lookup_error_loader
    def unknown_user(_header, _payload):
        return _unauthorized("Usuário não encontrado ou inativo.")

    @jwt.needs_fresh_token_loader
    def needs_fresh(_header, _payload):  # pragma: no cover - no fresh-only routes
        return _unauthorized("É preciso um token recente.")

    @jwt.token_verification_failed_loader
    def verification_failed(_header, _payload):  # pragma: no cover
        return _unauthorized("O token informado não é válido.")


# The order of checks is DRF's: authentication (401), then permission and visibility (403/404), then the body and
# the query (400). flask-smorest parses arguments in the ``@blp.arguments`` wrapper, before the view runs, so these
# decorators go above it: ``@auth_required`` (or ``@optional_auth``) first under the route, then ``@allowed(...)``.


def auth_required(fn):
    """Require a live access token, and document the bearer security in OpenAPI. Put it above ``@blp.arguments``."""
    return Blueprint.doc(security=BEARER_SECURITY)(jwt_required()(fn))


def optional_auth(fn):
    """Identify the caller when a valid token is sent; anonymous otherwise (an invalid token is still a 401).
    Put it above ``@blp.arguments``."""
    return Blueprint.doc(security=[{}, *BEARER_SECURITY])(jwt_required(optional=True)(fn))


def allowed(check):
    """Run ``check(caller=..., **path ids)`` — the domain's rule for who may use this route, raising 404 or 403 —
    before the body or the query is parsed: someone else's object with an invalid body is a 403/404, never a 400
    that tells what a valid body would be. The service applies the same rule again inside its unit of work.
    Put it under ``@auth_required``/``@optional_auth`` and above ``@blp.arguments``. ``check`` gets the path ids
    it names (``event_id`` alone for a rule about the event)."""
    names = set(inspect.signature(check).parameters) - {"caller"}

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            # kept for the request: the session's identity map holds objects weakly, and the service's own check
            # then finds the object there instead of loading it a second time
            g.mutiroes_allowed = check(
                caller=caller(), **{name: value for name, value in kwargs.items() if name in names}
            )
            return fn(*args, **kwargs)

        return wrapper

    return decorator


def staff_required(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verify_jwt_in_request()
        if not current_user.is_staff:
            raise Forbidden()
        return fn(*args, **kwargs)

    return auth_required(wrapper)


def caller():
    """The authenticated user, or ``None`` for an anonymous request (inside an optional_auth route)."""
    return current_user if get_jwt() else None


def caller_id() -> int | None:
    """The id of the caller whose token this request verified, else ``None`` (anonymous, or a route that checked no
    token); it never verifies a token itself, so the access log costs no session lookup."""
    try:
        identity = get_jwt_identity()
    except RuntimeError:  # nothing in this request verified a token
        return None
    return int(identity) if identity is not None else None
