"""Security events are logged with who and from where, in UTC, one per line."""

import io
import logging
import re

import pytest

from docdraft.logs import DATE_FORMAT, FORMAT, OneLinePerRecord, UtcFormatter
from docdraft.models import Role

from .conftest import PASSWORD, Browser


def test_failed_logins_name_the_account_and_the_address(app, make_user, caplog):
    caplog.set_level(logging.INFO)
    user_id, email = make_user(Role.sponsor)
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    browser.login(email, "not the password at all")
    browser.login("nobody@example.org", "not the password at all")
    browser.login(email)
    assert f"failed login for user={user_id} from 10.9.8.7" in caplog.text
    assert "failed login for user=unknown from 10.9.8.7" in caplog.text
    assert f"login user={user_id} from 10.9.8.7" in caplog.text
    assert PASSWORD not in caplog.text and "not the password" not in caplog.text


def test_ownership_404s_are_logged(sponsor, login_as, create_document, editor, caplog):
    document_id = create_document(sponsor, editor.user_id)
    stranger = login_as(Role.sponsor)
    assert stranger.get(f"/sponsor/documents/{document_id}").status_code == 404
    assert f"document {document_id} not theirs or missing" in caplog.text


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1/minute")
def test_rate_limit_hits_are_logged(app, caplog):
    browser = Browser(app.test_client())
    for _ in range(2):
        browser.login("a@example.org", "wrong password!")
    assert "rate limit 1 per 1 minute hit from 127.0.0.1 on /login" in caplog.text


def test_log_lines_are_utc_with_a_zone_and_cannot_be_forged():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(UtcFormatter(FORMAT, DATE_FORMAT))
    handler.addFilter(OneLinePerRecord())
    logger = logging.getLogger("docdraft.test-forgery")
    logger.addHandler(handler)
    try:
        logger.warning(
            "failed login for %s", "x\n2026-01-01T00:00:00Z INFO login user=1"
        )
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WARNING", lines[0])
    assert "x\\n2026-01-01" in lines[0]
