"""Accounts, logins and profiles. Each public function is one unit of work and commits it."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from sqlalchemy.exc import IntegrityError

from mutiroes import jobs
from mutiroes.errors import Throttled, Unauthorized, ValidationError
from mutiroes.events.models import EventCategory
from mutiroes.models import commit_keeping_loaded, db
from mutiroes.platform import images, throttle
from mutiroes.timeutil import utcnow
from mutiroes.users import tokens
from mutiroes.users.models import AuthSession, RefreshToken, TokenPurpose, User

INVALID_CREDENTIALS = "E-mail, nome de usuário ou senha incorretos."
COMMON_PASSWORDS = frozenset(
    {"password", "senha123", "12345678", "qwertyui", "abcdefgh", "password1", "senhasenha", "mutirao123"}
)


# --- passwords -------------------------------------------------------------------------------------------------


def _hasher() -> PasswordHasher:
    hasher = current_app.extensions.get("mutiroes_hasher")
    if hasher is None:
        settings = current_app.config["MUTIROES"]
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost_kib, parallelism=1
        )  # argon2id is the library's default type
        current_app.extensions["mutiroes_hasher"] = hasher
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_password(user: User | None, password: str) -> bool:
    hasher = _hasher()
    if user is None:
        # spend the same time as a real check so response time does not reveal which accounts exist
        _burn_hash_time(hasher, password)
        return False
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def password_matches(user: User, password: str) -> bool:
    """Whether ``password`` is the user's (an erased account has none); a hash due for new parameters is renewed."""
    return _verify_password(user, password)


def _dummy_hash() -> str:
    dummy = current_app.extensions.get("mutiroes_dummy_hash")
    if dummy is None:
        dummy = _hasher().hash(uuid.uuid4().hex)
        current_app.extensions["mutiroes_dummy_hash"] = dummy
    return dummy


def _burn_hash_time(hasher: PasswordHasher, password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash(), password)


def validate_password(password: str, *, username: str = "", email: str = "", field: str = "password") -> None:
    problems = []
    if len(password) < 8:
        problems.append("A senha deve ter pelo menos 8 caracteres.")
    if password.isdigit():
        problems.append("A senha não pode ser composta apenas por números.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("Esta senha é comum demais.")
    similar = {username.lower(), email.lower(), email.lower().split("@")[0]} - {""}
    if lowered in similar:
        problems.append("A senha não pode ser igual ao nome de usuário ou ao e-mail.")
    if problems:
        raise ValidationError({field: problems})


# --- registration ----------------------------------------------------------------------------------------------


def _identity_taken(*, username: str | None = None, email: str | None = None) -> dict[str, list[str]]:
    taken: dict[str, list[str]] = {}
    if username and db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(sa.func.lower(User.username) == username.lower())
    ):
        taken["username"] = ["Já existe um usuário com este nome de usuário."]
    if email and db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(sa.func.lower(User.email) == email.lower())
    ):
        taken["email"] = ["Já existe um usuário com este e-mail."]
    return taken


def create(*, username: str, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Register an account and queue its welcome email (sent only once the account is committed)."""
    validate_password(password, username=username, email=email)
    taken = _identity_taken(username=username, email=email)
    if taken:
        raise ValidationError(taken)
    user = User(
        username=username,
        email=email.lower(),
        password_hash=hash_password(password),
        first_name=first_name,
        last_name=last_name,
    )
    db.session.add(user)
    try:
        db.session.flush()
        jobs.request("send_welcome_email", user_id=user.id)
        # the answer is made from what was written: a server lost right after the commit must not turn a stored
        # account into an error (the person would register again and find the name taken)
        commit_keeping_loaded()
    except IntegrityError as exc:
        # a concurrent registration took the name between our check and our insert
        db.session.rollback()
        raise ValidationError(
            _identity_taken(username=username, email=email)
            or {"non_field_errors": ["Não foi possível concluir o cadastro."]}
        ) from exc
    return user


# --- login throttling ------------------------------------------------------------------------------------------
# Failed logins (and failed password changes) are counted three ways, each over the same window:
# - per account *and* client IP: past the limit, that IP gets 429 for that account, and only that IP, so nobody
#   can lock a known account from elsewhere;
# - per client IP, whatever the accounts: one address spraying many accounts gets 429;
# - per account, whatever the IPs: past this (higher) limit — a guess spread over many addresses — only IPs this
#   account has logged in from before ("known", remembered KNOWN_IP_DAYS) may still try, within their own limit;
#   the right password from a known IP still works at once. Everyone else gets 429 until the window ends.
# The account is the resolved user id; an identifier that names no account is counted under itself, so the answers
# are the same whether or not it exists.
KNOWN_IP_DAYS = 30


def _account_key(user: User | None, identifier: str) -> str:
    return f"user:{user.id}" if user is not None else f"unknown:{identifier.strip().lower()}"


def _known_ip_key(user: User, client_ip: str) -> str:
    return f"mutiroes:login-ok:{user.id}:{client_ip}"


def _failure_keys(account: str, client_ip: str) -> dict[str, str]:
    return {
        "pair": f"mutiroes:login-fail:{account}:ip:{client_ip}",
        "ip": f"mutiroes:login-fail:ip:{client_ip}",
        "account": f"mutiroes:login-fail:{account}",
    }


def _check_throttle(user: User | None, identifier: str, client_ip: str) -> None:
    settings = current_app.config["MUTIROES"]
    counters = throttle.counters()
    keys = _failure_keys(_account_key(user, identifier), client_ip)
    for name, limit in (
        ("pair", settings.login_max_failures_per_account),
        ("ip", settings.login_max_failures_per_ip),
    ):
        count, retry_after = counters.get(keys[name])
        if count >= limit:
            raise Throttled(retry_after)
    count, retry_after = counters.get(keys["account"])
    if count >= settings.login_max_failures_account_wide:
        known = user is not None and counters.get(_known_ip_key(user, client_ip))[0] > 0
        if not known:
            raise Throttled(retry_after)


def _record_failure(user: User | None, identifier: str, client_ip: str) -> None:
    counters = throttle.counters()
    window = current_app.config["MUTIROES"].login_failure_window_seconds
    for key in _failure_keys(_account_key(user, identifier), client_ip).values():
        counters.hit(key, window)


def _record_success(user: User, client_ip: str) -> None:
    counters = throttle.counters()
    counters.reset(_failure_keys(_account_key(user, ""), client_ip)["pair"])
    counters.hit(_known_ip_key(user, client_ip), KNOWN_IP_DAYS * 24 * 3600)


def _find_account(identifier: str) -> User | None:
    """The account an identifier names: an e-mail first, then a username (usernames have no "@", but older ones may)."""
    lookup = identifier.strip().lower()
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == lookup))
    if user is None:
        user = db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == lookup))
    return user


def _checked_login(identifier: str, password: str, client_ip: str) -> User | None:
    """The active account these credentials open, or None (the failure counted); 429 past the limits."""
    user = _find_account(identifier)
    _check_throttle(user, identifier, client_ip)
    if not _verify_password(user, password) or not user.is_active:
        db.session.rollback()
        _record_failure(user, identifier, client_ip)
        return None
    _record_success(user, client_ip)
    return user


# --- tokens ----------------------------------------------------------------------------------------------------


def _issue_pair(session: AuthSession, user: User) -> dict[str, str]:
    settings = current_app.config["MUTIROES"]
    refresh_jti = str(uuid.uuid4())
    now = utcnow()
    refresh_expires = now + dt.timedelta(days=settings.refresh_token_days)
    claims = {"sid": session.id}
    access = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh = create_refresh_token(identity=str(user.id), additional_claims={**claims, "jti": refresh_jti})
    db.session.add(RefreshToken(jti=refresh_jti, session_id=session.id, issued_at=now, expires_at=refresh_expires))
    session.expires_at = refresh_expires
    return {"access": access, "refresh": refresh}


def login(*, identifier: str, password: str, client_ip: str) -> dict[str, str]:
    """Exchange credentials for a token pair; the same 401 whether the account exists or not."""
    user = _checked_login(identifier, password, client_ip)
    if user is None:
        raise Unauthorized(INVALID_CREDENTIALS, code="no_active_account")
    session = AuthSession(id=uuid.uuid4().hex, user_id=user.id, expires_at=utcnow())
    db.session.add(session)
    tokens = _issue_pair(session, user)
    db.session.commit()
    return tokens


def verify_credentials(*, identifier: str, password: str, client_ip: str) -> User | None:
    """Check credentials without opening a login (HTTP Basic on staff tools); throttled like :func:`login`."""
    user = _checked_login(identifier, password, client_ip)
    if user is not None:
        db.session.commit()  # keeps a rehashed password
    return user


def _decode_refresh(token: str) -> dict[str, Any]:
    try:
        payload = decode_token(token)
    except (pyjwt.PyJWTError, JWTExtendedException, ValueError) as exc:
        raise Unauthorized("O token informado é inválido ou expirou.", code="token_not_valid") from exc
    if payload.get("type") != "refresh" or not payload.get("sid") or not payload.get("jti"):
        raise Unauthorized("O token informado é inválido ou expirou.", code="token_not_valid")
    return payload


def refresh(*, refresh_token: str) -> dict[str, str]:
    """Rotate: the presented refresh token is spent; presenting a spent one revokes the whole login."""
    payload = _decode_refresh(refresh_token)
    now = utcnow()
    spent = db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.jti == payload["jti"], RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        known = db.session.get(RefreshToken, payload["jti"])
        if known is not None:
            db.session.execute(
                sa.update(AuthSession)
                .where(AuthSession.id == known.session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason="refresh_reuse")
            )
            db.session.commit()
            raise Unauthorized(
                "Este token de atualização já foi usado; a sessão foi encerrada por segurança.",
                code="token_reused",
            )
        db.session.rollback()
        raise Unauthorized("O token informado é inválido ou expirou.", code="token_not_valid")
    session = db.session.get(AuthSession, payload["sid"])
    if (
        session is None
        or session.revoked_at is not None
        or session.expires_at <= now
        or not session.user.is_active
        or str(session.user_id) != payload.get("sub")
    ):
        db.session.rollback()
        raise Unauthorized("O token informado é inválido ou expirou.", code="token_not_valid")
    tokens = _issue_pair(session, session.user)
    db.session.commit()
    return tokens


def logout(*, user: User, session_id: str, refresh_token: str) -> None:
    """End the caller's login, and the login of the refresh token presented when it is the caller's too."""
    try:
        payload = _decode_refresh(refresh_token)
    except Unauthorized as exc:
        raise ValidationError({"refresh": ["Token de atualização inválido ou expirado."]}) from exc
    if payload.get("sub") != str(user.id):
        raise ValidationError({"refresh": ["Este token de atualização não pertence a você."]})
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.id.in_({session_id, payload["sid"]}), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )
    db.session.commit()


def change_password(*, user: User, old_password: str, new_password: str, client_ip: str) -> None:
    """Set a new password and end every login of the account: all earlier tokens stop working.

    A wrong current password counts as a failed login of the account from that IP (and past the limits is a 429),
    so a stolen token cannot be used to guess the password any faster than the login form allows."""
    _check_throttle(user, "", client_ip)
    if not _verify_password(user, old_password):
        _record_failure(user, "", client_ip)
        raise ValidationError({"old_password": ["A senha atual está incorreta."]})
    validate_password(new_password, username=user.username, email=user.email, field="new_password")
    if old_password == new_password:
        raise ValidationError({"new_password": ["A nova senha deve ser diferente da atual."]})
    user.password_hash = hash_password(new_password)
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="password_changed")
    )
    # a reset link still in the mailbox must not undo the password just chosen
    tokens.spend_all(user.id, TokenPurpose.PASSWORD_RESET)
    db.session.commit()


# --- profiles --------------------------------------------------------------------------------------------------


def update_profile(*, user: User, changes: dict[str, Any]) -> User:
    changes = dict(changes)
    if "interests" in changes:
        wanted = list(dict.fromkeys(changes["interests"]))
        known = set(db.session.scalars(sa.select(EventCategory.id).where(EventCategory.id.in_(wanted))))
        unknown = [category_id for category_id in wanted if category_id not in known]
        if unknown:
            raise ValidationError({"interests": [f"Categoria inexistente: {unknown[0]}."]})
        changes["interests"] = wanted
    if "notification_preferences" in changes:
        # a partial object changes only the keys it names
        changes["notification_preferences"] = {
            **(user.notification_preferences or {}),
            **changes["notification_preferences"],
        }
    for name, value in changes.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def set_avatar(*, user: User, upload) -> User:
    """Store a new avatar (validated and re-encoded by content) and drop the previous file once committed."""
    stored = images.store(upload, folder="avatars", field="avatar", max_pixels=images.DISPLAY_MAX_PIXELS)
    previous = user.avatar
    user.avatar = stored
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        images.delete(stored)
        raise
    images.delete(previous)
    return user


# --- clean-up ----------------------------------------------------------------------------------------------------


def purge_expired_sessions(now: dt.datetime) -> int:
    """Clean-up step: login sessions past their expiry (revoked or not) and refresh tokens past theirs.

    A revoked session is kept until it expires, so that reuse of its refresh tokens is still recognised.
    """
    tokens = db.session.execute(sa.delete(RefreshToken).where(RefreshToken.expires_at < now)).rowcount
    # the session's remaining refresh tokens go with it (ON DELETE CASCADE)
    sessions = db.session.execute(sa.delete(AuthSession).where(AuthSession.expires_at < now)).rowcount
    return tokens + sessions
