"""Users and tokens over HTTP: parse, call one service function, answer."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from mutiroes.impact import service as impact
from mutiroes.schemas import DetailSchema
from mutiroes.users import accounts, schemas, service
from mutiroes.web.auth import auth_required, current_user, get_jwt
from mutiroes.web.parsing import Blueprint

blp = Blueprint("users", __name__, url_prefix="/api/users", description="Contas, perfis e estatísticas.")
token_blp = Blueprint("token", __name__, url_prefix="/api/token", description="Autenticação JWT.")


def client_ip() -> str:
    # with MUTIROES_TRUSTED_PROXIES set, ProxyFix has already put the real client address here
    return request.remote_addr or "unknown"


@blp.route("/register/", methods=["POST"])
@blp.arguments(schemas.RegisterSchema)
@blp.response(201, schemas.UserSchema)
def register(data):
    """Create an account; the welcome email is queued."""
    data.pop("password_confirm")
    return service.create(**data)


@token_blp.route("/", methods=["POST"])
@token_blp.arguments(schemas.TokenRequestSchema)
@token_blp.response(200, schemas.TokenPairSchema)
@token_blp.alt_response(401, description="Credenciais inválidas (mesmo corpo para e-mail ou senha errados).")
@token_blp.alt_response(429, description="Tentativas demais para esta conta ou este IP; veja Retry-After.")
def obtain_token(data):
    """Log in with e-mail (or username) and password."""
    return service.login(
        identifier=data.get("email") or data["username"], password=data["password"], client_ip=client_ip()
    )


@token_blp.route("/refresh/", methods=["POST"])
@token_blp.arguments(schemas.RefreshRequestSchema)
@token_blp.response(200, schemas.TokenPairSchema)
def refresh_token(data):
    """Rotate a refresh token. Presenting one already rotated ends the whole login."""
    return service.refresh(refresh_token=data["refresh"])


@token_blp.route("/logout/", methods=["POST"])
@auth_required
@token_blp.arguments(schemas.RefreshRequestSchema)
@token_blp.response(204)
def logout(data):
    """End this login: its access and refresh tokens stop working on every replica."""
    service.logout(user=current_user, session_id=get_jwt()["sid"], refresh_token=data["refresh"])


@blp.route("/profile/")
class Profile(MethodView):
    @auth_required
    @blp.response(200, schemas.ProfileSchema)
    def get(self):
        """The caller's profile."""
        return current_user

    @auth_required
    @blp.arguments(schemas.ProfileUpdateSchema)
    @blp.response(200, schemas.ProfileSchema)
    def patch(self, changes):
        """Change profile fields; counters, e-mail and flags are not writable (sent back with the profile, they are
        ignored)."""
        return service.update_profile(user=current_user, changes=changes)

    @auth_required
    @blp.arguments(schemas.AccountDeleteSchema)
    @blp.response(204)
    @blp.alt_response(429, description="Senhas erradas demais; veja Retry-After.")
    def delete(self, data):
        """Erase the caller's account (LGPD), with the current `password`; it cannot be undone.

        Names, email, phone, birth date, bio, avatar, address, emergency data, comments, photos and logins are
        deleted; login becomes impossible. Participations at past events stay, anonymous, so published impact
        numbers stay true. Events the caller organizes that have not started are cancelled and their participants
        emailed; the caller's places at events not over are freed. Wrong password → 400 on `password`."""
        accounts.erase(user=current_user, password=data["password"])


@blp.route("/profile/export/", methods=["GET"])
@blp.response(200, schemas.AccountExportSchema)
@auth_required
def export_profile():
    """Everything held about the caller (LGPD): profile, participations, events organized, comments, photos,
    pledges, reports filed, badges, hours, the emails sent to them (subject and date) and their logins."""
    return accounts.export(user=current_user)


@blp.route("/password-reset/", methods=["POST"])
@blp.arguments(schemas.PasswordResetRequestSchema)
@blp.response(202, DetailSchema)
@blp.alt_response(429, description="Pedidos demais para este e-mail ou este IP; veja Retry-After.")
def password_reset(data):
    """Email a link to choose a new password (`<MUTIROES_FRONTEND_URL>/redefinir-senha?token=…`, valid 1 h). The
    answer is the same whether or not the address has an account."""
    return {"detail": accounts.request_password_reset(email=data["email"], client_ip=client_ip())}


@blp.route("/password-reset/confirm/", methods=["POST"])
@blp.arguments(schemas.PasswordResetConfirmSchema)
@blp.response(200, DetailSchema)
def password_reset_confirm(data):
    """Set a new password with the emailed token (single use; expired, used or unknown → 400 on `token`). Password
    rules as at registration. Every login of the account ends, and the address counts as verified."""
    accounts.confirm_password_reset(token=data["token"], new_password=data["new_password"])
    return {"detail": "Senha redefinida. Entre com a nova senha."}


@blp.route("/verify-email/", methods=["POST"])
@blp.arguments(schemas.VerifyEmailSchema)
@blp.response(200, DetailSchema)
def verify_email(data):
    """Confirm the email address with the token of the welcome email's link
    (`<MUTIROES_FRONTEND_URL>/verificar-email?token=…`); single use. Hours, badges and ranks earned so far are
    credited in the background."""
    accounts.verify_email(token=data["token"])
    return {"detail": "E-mail confirmado. Obrigado!"}


@blp.route("/verify-email/resend/", methods=["POST"])
@blp.response(202, DetailSchema)
@blp.alt_response(409, description="O e-mail já está confirmado.")
@blp.alt_response(429, description="Pedidos demais; veja Retry-After.")
@auth_required
def verify_email_resend():
    """Email a new verification link to the caller's address (valid 7 days)."""
    accounts.resend_verification(user=current_user)
    return {"detail": "Enviamos um novo link de confirmação para o seu e-mail."}


@blp.route("/profile/avatar/", methods=["PUT"])
@auth_required
@blp.arguments(schemas.AvatarUploadSchema, location="files")
@blp.response(200, schemas.ProfileSchema)
@blp.alt_response(413, description="Imagem maior que o limite de upload.")
@blp.alt_response(415, description="O arquivo não é uma imagem JPEG, PNG ou WebP.")
def upload_avatar(files):
    """Upload the caller's avatar (multipart field `avatar`); the image is re-encoded without metadata, and one
    larger than 12 megapixels is scaled down."""
    return service.set_avatar(user=current_user, upload=files["avatar"])


@blp.route("/profile/update/", methods=["PATCH"])
@auth_required
@blp.arguments(schemas.ProfileUpdateSchema)
@blp.response(200, schemas.ProfileSchema)
def update_profile_legacy(changes):
    """Same as PATCH /api/users/profile/, kept for the current frontend."""
    return service.update_profile(user=current_user, changes=changes)


@blp.route("/profile/<string:username>/", methods=["GET"])
@blp.response(200, schemas.PublicProfileSchema)
def public_profile(username):
    """A public profile; 404 when the profile is not public."""
    return impact.public_profile(username=username)


@blp.route("/change-password/", methods=["POST"])
@auth_required
@blp.arguments(schemas.ChangePasswordSchema)
@blp.response(200, DetailSchema)
@blp.alt_response(429, description="Tentativas demais com a senha errada; veja Retry-After.")
def change_password(data):
    """Change the password; every token issued before stops working. A wrong current password counts as a failed
    login (the same limits, 429 past them)."""
    service.change_password(user=current_user, client_ip=client_ip(), **data)
    return {"detail": "Senha alterada com sucesso. Entre novamente."}


@blp.route("/stats/", methods=["GET"])
@auth_required
@blp.response(200, schemas.UserStatsSchema)
def stats():
    """The caller's volunteering numbers."""
    return impact.user_stats(user=current_user)
