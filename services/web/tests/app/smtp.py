"""A real SMTP server for tests (aiosmtpd), on a free port of 127.0.0.1.

    from .smtp import smtp_server  # noqa: F401  (the fixture)

    def test_x(make_app, smtp_server):
        app = make_app(**smtp_server.config)
        ...
        assert smtp_server.messages[0]["Subject"] == "..."

`stop()` and `start()` simulate an outage (connections are refused while it
is stopped); `refuse` makes it answer every recipient with a 550.
`smtp_tls_server` requires STARTTLS (a certificate for 127.0.0.1 that the
test's SSL_CERT_FILE trusts) and a login (`username`, `password`).
"""

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.server.refuse:
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        with self.server.lock:
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """Received messages (email.message.EmailMessage) in `messages`, their
    envelopes ((mail_from, [recipients])) in `envelopes`. With `certificate`
    ((cert, key) paths) it requires STARTTLS; with `login` ((username,
    password)) it requires that login."""

    def __init__(self, certificate=None, login=None):
        self.certificate = certificate
        self.login = login
        self.port = _free_port()
        self.messages = []
        self.envelopes = []
        self.refuse = False
        self.lock = threading.Lock()
        self.controller = None

    @property
    def config(self):
        """App settings that send to this server."""
        username, password = self.login or (None, None)
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": bool(self.certificate),
            "MAIL_USERNAME": username,
            "MAIL_PASSWORD": password,
        }

    def start(self):
        options = {}
        if self.certificate:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.certificate)
            options.update(tls_context=context, require_starttls=True)
        if self.login:
            # PLAIN only: smtplib then tries one mechanism, and a wrong
            # password is one clear 535.
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_exclude_mechanism=["LOGIN"],
            )
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        given = (auth_data.login.decode(), auth_data.password.decode())
        # handled=False: aiosmtpd answers a failure with its 535 itself.
        return AuthResult(success=given == self.login, handled=False)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        """The messages whose envelope names `address` as a recipient."""
        with self.lock:
            pairs = zip(self.envelopes, self.messages, strict=True)
            return [message for (_, rcpts), message in pairs if address in rcpts]


def self_signed_certificate(directory):
    """(cert, key) paths of a certificate for 127.0.0.1, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def smtp_tls_server(tmp_path, monkeypatch):
    """STARTTLS and login required; the certificate trusted by this test's
    clients (SSL_CERT_FILE). `config` holds the matching app settings."""
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    server = SmtpServer(certificate=certificate, login=("mailer", "s3cret-pass"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
