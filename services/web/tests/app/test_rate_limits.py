"""Brute force is limited per account (untrusted clients) and per client address."""

import pytest

from docdraft.models import Role

from .conftest import PASSWORD, Browser

LIMITS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ACCOUNT": "3 per 15 minutes",
    "RATELIMIT_LOGIN": "8/minute",
    "RATELIMIT_SIGNUP": "2/hour",
}


def browser_from(app, address):
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


@pytest.mark.app_config(**LIMITS)
def test_an_account_is_locked_for_untrusted_clients_even_with_the_right_password(
    app, make_user
):
    """Clients without a device cookie for the account (test_device_cookies)."""
    _, email = make_user(Role.sponsor)
    for n in range(3):  # each from another address: the account counts
        response = browser_from(app, f"10.0.0.{n}").login(email, "wrong password!")
        assert response.status_code == 400
    locked = browser_from(app, "10.0.0.9").login(email, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many attempts" in locked.get_data(as_text=True)
    _, other = make_user(Role.editor)  # another account is not affected
    assert browser_from(app, "10.0.0.9").login(other, PASSWORD).status_code == 302


@pytest.mark.app_config(**LIMITS)
def test_successful_logins_do_not_count_against_the_account(app, make_user):
    _, email = make_user(Role.sponsor)
    for n in range(5):
        assert browser_from(app, f"10.0.1.{n}").login(email).status_code == 302


@pytest.mark.app_config(**LIMITS)
def test_refusals_of_the_address_limit_do_not_count_against_the_account(app, make_user):
    _, email = make_user(Role.sponsor)
    attacker = browser_from(app, "10.0.5.1")
    statuses = [attacker.login(email, "wrong password!").status_code for _ in range(2)]
    statuses += [
        attacker.login(f"nobody{n}@example.org", "wrong password!").status_code
        for n in range(6)
    ]
    statuses += [attacker.login(email, "wrong password!").status_code for _ in range(4)]
    assert statuses == [400] * 8 + [429] * 4  # the address is spent
    # Two real failures, not six: the account still lets a new browser in.
    assert browser_from(app, "10.0.5.2").login(email).status_code == 302


@pytest.mark.app_config(**LIMITS)
def test_refused_forms_do_not_count_against_the_account(app, make_user):
    _, email = make_user(Role.sponsor)
    for n in range(4):  # no password: a 400 before any password is checked
        assert browser_from(app, f"10.0.6.{n}").login(email, "").status_code == 400
    assert browser_from(app, "10.0.6.9").login(email).status_code == 302


@pytest.mark.app_config(**LIMITS)
def test_one_address_is_limited_across_accounts(app, make_user):
    browser = browser_from(app, "10.0.2.1")
    statuses = [
        browser.login(f"nobody{n}@example.org", "wrong password!").status_code
        for n in range(9)
    ]
    assert statuses == [400] * 8 + [429]
    assert (
        browser_from(app, "10.0.2.2").login("x@example.org", "y" * 9).status_code == 400
    )


@pytest.mark.app_config(**LIMITS)
def test_signups_per_address_are_limited(app):
    browser = browser_from(app, "10.0.3.1")
    statuses = [
        browser.submit(
            "/signup/editor",
            {
                "name": "E",
                "email": f"e{n}@example.org",
                "password": PASSWORD,
                "confirm": PASSWORD,
                "organization": "Acme",
            },
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]


@pytest.mark.app_config(**LIMITS, TRUSTED_PROXY_HOPS=1, TRUSTED_PROXIES="10.0.4.1")
def test_the_address_comes_from_the_trusted_proxy_not_the_client(app):
    """A client rotating X-Forwarded-For gets nowhere: the proxy's hop counts."""
    browser = browser_from(app, "10.0.4.1")
    statuses = []
    for n in range(9):
        # What the client sent, then what the one trusted proxy appended.
        browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"1.2.3.{n}, 198.51.100.7"
        statuses.append(
            browser.login(f"a{n}@example.org", "wrong password!").status_code
        )
    assert statuses[-1] == 429
