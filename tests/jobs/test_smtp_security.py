"""Mail through a relay that requires encryption and a login: STARTTLS or TLS from the first byte, the server's
certificate verified against the CA of ``MUTIROES_SMTP_CA_CERT``, the login of ``MUTIROES_SMTP_USER``.

The relay is ``workers.smtp_sink`` run as a real SMTP server process with a certificate made here by ``openssl``
(a private CA and a server certificate for 127.0.0.1); the mail is the welcome email of a registration, sent by the
embedded mode's job thread.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from mutiroes import create_app
from tests.jobs.conftest import SMTPSink, mail_environ, register
from tests.services import free_port

LOGIN, PASSWORD = "relay-mutiroes", "senha-do-relay-2026"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates() -> Path:
    """``ca.pem`` (a private CA), ``server.pem``/``server.key`` (signed by it for 127.0.0.1), and
    ``rogue.pem``/``rogue.key`` (self-signed for the same address: what an impostor would present)."""
    here = Path(tempfile.mkdtemp(prefix="mutiroes-smtp-tls-"))
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Mutiroes Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=here,
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=here,
    )  # fmt: skip
    (here / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
        cwd=here,
    )  # fmt: skip
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        cwd=here,
    )  # fmt: skip
    return here


@pytest.fixture
def relay(certificates):
    """Start a relay: ``relay(tls, certificate="server")`` requires that encryption and the login above."""
    started: list[SMTPSink] = []

    def start(tls: str, certificate: str = "server") -> SMTPSink:
        sink = SMTPSink(
            directory=Path(tempfile.mkdtemp(prefix="mutiroes-relay-")),
            port=free_port(),
            options=[
                "--tls", tls,
                "--cert", str(certificates / f"{certificate}.pem"),
                "--key", str(certificates / f"{certificate}.key"),
                "--auth", f"{LOGIN}:{PASSWORD}",
            ],
        )  # fmt: skip
        sink.start()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


@pytest.fixture
def mailing_app(app, make_config, certificates):
    """An embedded-mode app (jobs on a thread after the commit) that mails through ``sink`` with the login above,
    trusting our CA, and ``settings`` on top (``None`` leaves a setting unset)."""

    def make(sink: SMTPSink, **settings: str | None):
        environ = {**mail_environ(sink), "MUTIROES_REDIS_URL": "", "MUTIROES_SMTP_USER": LOGIN}
        environ["MUTIROES_SMTP_PASSWORD"] = PASSWORD
        environ["MUTIROES_SMTP_CA_CERT"] = (certificates / "ca.pem").read_text()
        environ.update({f"MUTIROES_{name.upper()}": value for name, value in settings.items()})
        environ = {name: value for name, value in environ.items() if value is not None}
        return create_app(make_config(environ=environ))

    return make


def failures(log_lines, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in log_lines() if line["message"].startswith("job send_welcome_email failed")]
        if found:
            return found
        time.sleep(0.05)
    return []


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_the_welcome_email_reaches_a_relay_that_requires_encryption_and_a_login(relay, mailing_app, tls):
    sink = relay(tls)
    app = mailing_app(sink, smtp_security=tls)
    assert register(app.test_client(), f"rita_{tls}").status_code == 201
    [message] = sink.wait_for(1)
    assert message["To"] == f"rita_{tls}@example.org"
    assert message["Subject"] == "Boas-vindas ao Mutirões!"
    assert (message["X-Sink-TLS"], message["X-Sink-Login"]) == (tls, LOGIN)


@pytest.mark.parametrize(
    ("certificate", "ca"),
    [("rogue", "ours"), ("server", "the system's")],
    ids=["an impostor's certificate", "our CA not configured"],
)
def test_no_email_goes_to_a_relay_whose_certificate_is_not_trusted(relay, mailing_app, log_lines, certificate, ca):
    sink = relay("starttls", certificate=certificate)
    unset = {"smtp_ca_cert": None} if ca == "the system's" else {}
    app = mailing_app(sink, smtp_security="starttls", **unset)
    assert app.config["MUTIROES"].smtp_ca_cert is None if unset else app.config["MUTIROES"].smtp_ca_cert
    assert register(app.test_client(), "tito_inseguro").status_code == 201
    [failed] = failures(log_lines)
    assert "CERTIFICATE_VERIFY_FAILED" in failed["error"]
    assert sink.wait_for(1, timeout=1) == []


def test_no_email_goes_through_a_refused_login(relay, mailing_app, log_lines):
    sink = relay("starttls")
    app = mailing_app(sink, smtp_security="starttls", smtp_password="senha-errada")
    assert register(app.test_client(), "ugo_sem_senha").status_code == 201
    [failed] = failures(log_lines)
    assert "535" in failed["error"] and "Authentication credentials invalid" in failed["error"]
    assert sink.wait_for(1, timeout=1) == []
