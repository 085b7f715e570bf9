"""One SMTP session (none / STARTTLS / SSL, optional login) behind the shared SMTP circuit breaker."""

from __future__ import annotations

import functools
import smtplib
import ssl
from email.utils import parseaddr

from mutiroes.config import Config
from mutiroes.platform import breakers, circuit


@functools.cache
def tls_context(ca_certs: str | None = None) -> ssl.SSLContext:
    """The TLS settings of every SMTP session of this process, made once: loading the system's CA certificates took
    most of a notification job's CPU when every session made its own (and a session without TLS needs none). A
    changed CA bundle is read at the next start. The server's certificate and name are always verified, against
    ``ca_certs`` (PEM, ``MUTIROES_SMTP_CA_CERT``) when given, else against the system's CAs."""
    return ssl.create_default_context(cadata=ca_certs) if ca_certs else ssl.create_default_context()


class MailError(RuntimeError):
    """SMTP could not take the messages now; the job fails and RQ retries it."""


class SMTPConnection:
    """One SMTP session, opened on first use and reopened once when the server drops it."""

    def __init__(self, settings: Config) -> None:
        self.settings = settings
        self.sender = parseaddr(settings.mail_from)[1]
        self._smtp: smtplib.SMTP | None = None
        self.opened = 0

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            context = tls_context(s.smtp_ca_cert)
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=tls_context(s.smtp_ca_cert))
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except BaseException:  # a refused certificate or login: the session is no use, its socket is closed now
            smtp.close()
            raise
        self.opened += 1
        return smtp

    @staticmethod
    def _through_breaker(func, *args):
        """SMTP calls go through the shared SMTP breaker; an open circuit fails the job fast, to be retried later."""
        try:
            return breakers.guarded("smtp", func, *args)
        except circuit.DependencyUnavailable as exc:
            raise MailError("SMTP circuit open: not trying until it half-opens") from exc

    def send(self, raw: bytes, recipient: str) -> None:
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._through_breaker(self._open)
            try:
                self._through_breaker(self._smtp.sendmail, self.sender, [recipient], raw)
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._smtp = None
                if attempt == 2:
                    raise MailError(f"SMTP connection lost: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
