"""A real SMTP server for tests (aiosmtpd), on a free port of 127.0.0.1.

    from .smtp import smtp_server  # noqa: F401  (the fixture)

    def test_x(make_app, smtp_server):
        app = make_app(**smtp_server.config)
        ...
        assert smtp_server.messages[0]["Subject"] == "..."

`stop()` and `start()` simulate an outage (connections are refused while it
is stopped); `refuse` makes it answer every recipient with a 550.
"""

import email
import email.policy
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


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
    envelopes ((mail_from, [recipients])) in `envelopes`."""

    def __init__(self):
        self.port = _free_port()
        self.messages = []
        self.envelopes = []
        self.refuse = False
        self.lock = threading.Lock()
        self.controller = None

    @property
    def config(self):
        """App settings that send to this server (no TLS, no login)."""
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_USERNAME": None,
        }

    def start(self):
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        """The messages whose envelope names `address` as a recipient."""
        with self.lock:
            pairs = zip(self.envelopes, self.messages, strict=True)
            return [message for (_, rcpts), message in pairs if address in rcpts]


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
