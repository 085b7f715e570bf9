"""An SMTP server that keeps what it receives: ``python -m workers.smtp_sink --host H --port P --dir D``.

Development and the tests use it as the real SMTP server. Each message becomes one file in D, written atomically
(``<connection>-<sequence>.eml``), with ``X-Sink-Connection``, ``X-Sink-Mail-From``, ``X-Sink-Rcpt-To``,
``X-Sink-TLS`` (``none``, ``starttls`` or ``ssl``) and ``X-Sink-Login`` (the AUTH login, or ``-``) lines
prepended, so a reader can tell how many SMTP connections delivered what, and how.

Like a real relay it can require encryption and a login: ``--tls starttls`` (STARTTLS before any mail) or
``--tls ssl`` (TLS from the first byte), with ``--cert`` and ``--key`` (PEM), and ``--auth USER:PASSWORD``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class FileSink:
    def __init__(self, directory: Path, tls: str = "none") -> None:
        self.directory = directory
        self.tls = tls
        self._connections = itertools.count(1)
        self._messages = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # the name is aiosmtpd's hook
        if not hasattr(session, "sink_connection"):
            session.sink_connection = next(self._connections)
        number = next(self._messages)
        tls = "starttls" if session.ssl is not None else ("ssl" if self.tls == "ssl" else "none")
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else "-"
        header = (
            f"X-Sink-Connection: {session.sink_connection}\r\n"
            f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"X-Sink-TLS: {tls}\r\n"
            f"X-Sink-Login: {login}\r\n"
        ).encode()
        name = f"{session.sink_connection:06d}-{number:09d}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(header + envelope.original_content)
        os.replace(temporary, self.directory / name)
        return "250 Message accepted for delivery"


def password_check(user: str, password: str):
    """aiosmtpd's authenticator for one login (LOGIN and PLAIN)."""

    def authenticate(_server, _session, _envelope, _mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticate


def controller_for(args: argparse.Namespace) -> Controller:
    options: dict = {"hostname": args.host, "port": args.port, "decode_data": False}
    if args.tls != "none":
        if not (args.cert and args.key):
            raise SystemExit("--tls needs --cert and --key")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            # the whole connection is TLS: aiosmtpd cannot tell, so its "AUTH only after STARTTLS" must be off
            options.update(ssl_context=context, auth_require_tls=False)
    if args.auth:
        user, _, password = args.auth.partition(":")
        options.update(authenticator=password_check(user, password), auth_required=True)
        if args.tls == "none":
            options["auth_require_tls"] = False  # a login in clear text: development only
    return Controller(FileSink(args.dir, args.tls), **options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SMTP server that stores each message as a file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--tls", choices=("none", "starttls", "ssl"), default="none", help="encryption required")
    parser.add_argument("--cert", help="PEM certificate chain of the server (with --tls)")
    parser.add_argument("--key", help="PEM private key of the server (with --tls)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login before any mail")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    controller = controller_for(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, storing messages in {args.dir}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
