"""Building a message and handing it to SMTP, or to the log in development."""

import logging
import smtplib
import ssl
from contextlib import contextmanager
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

log = logging.getLogger("docdraft.mail")

SMTP_TIMEOUT = 20  # seconds per SMTP command: a hung server delays, never blocks


def build_message(mail, user, config):
    """A multipart/alternative message (plain text, then HTML) for `mail`.

    The display name is encoded by the email package, and `enqueue` refused
    line breaks in the subject and headers, so nothing can add a header.
    """
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = _recipient(mail, user)
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=_domain(config["MAIL_FROM"]))
    for name, value in (mail.headers or {}).items():
        message[name] = value
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def _recipient(mail, user):
    if user is None or not user.name:
        return mail.to_address
    local, _, domain = mail.to_address.rpartition("@")
    return Address(display_name=user.name, username=local, domain=domain)


def _domain(from_header):
    return parseaddr(from_header)[1].rpartition("@")[2] or "localhost"


class SmtpTransport:
    """One SMTP connection, opened on the first message and reopened after
    an error; STARTTLS with MAIL_USE_TLS (the server's certificate and name
    verified), login with MAIL_USERNAME."""

    errors = (smtplib.SMTPException, OSError)

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def send(self, message):
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.send_message(message)
        except self.errors:
            self.close()  # a refused message may leave the session unusable
            raise

    def _connect(self):
        config = self.config
        smtp = smtplib.SMTP(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT
        )
        try:
            if config["MAIL_USE_TLS"]:
                # Verified against the system's CAs (smtplib's default
                # verifies nothing, which would hand the login to anyone
                # in the path).
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except self.errors:
                self.smtp.close()
            self.smtp = None


class LogTransport:
    """Development without MAIL_SERVER: the mail goes to the log. Its body
    is logged outside production only (a reset link is a secret)."""

    errors = ()

    def __init__(self, config):
        self.show_body = config.get("APP_ENV") != "production"

    def send(self, message):
        log.log(
            logging.INFO if self.show_body else logging.WARNING,
            "mail (no MAIL_SERVER, not sent) to=%s subject=%s",
            message["To"],
            message["Subject"],
        )
        if self.show_body:
            text = message.get_body(preferencelist=("plain",)).get_content()
            log.info("mail body: %s", text)

    def close(self):
        pass


@contextmanager
def transport_for(config):
    """SMTP when MAIL_SERVER is set, else the log; closed afterwards."""
    transport = (SmtpTransport if config["MAIL_SERVER"] else LogTransport)(config)
    try:
        yield transport
    finally:
        transport.close()
