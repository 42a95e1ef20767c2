"""The admin-creating and demo-seeding commands."""

import re

from .conftest import Browser


def test_create_admin_from_environment_password(app, runner, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "a long admin passphrase")
    result = runner.invoke(
        args=["create-admin", "--email", "Root@Example.org", "--name", "Root"]
    )
    assert result.exit_code == 0, result.output
    browser = Browser(app.test_client())
    assert (
        browser.login("root@example.org", "a long admin passphrase").status_code == 302
    )
    assert browser.get("/admin/users").status_code == 200


def test_create_admin_prompts_for_password(app, runner, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    result = runner.invoke(
        args=["create-admin", "--email", "a@example.org", "--name", "A"],
        input="typed passphrase\ntyped passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert (
        Browser(app.test_client())
        .login("a@example.org", "typed passphrase")
        .status_code
        == 302
    )


def test_create_admin_refuses_weak_password_and_duplicates(runner, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "password123")
    result = runner.invoke(
        args=["create-admin", "--email", "a@example.org", "--name", "A"]
    )
    assert result.exit_code != 0 and "too easy to guess" in result.output
    monkeypatch.setenv("ADMIN_PASSWORD", "a fine passphrase")
    assert (
        runner.invoke(
            args=["create-admin", "--email", "a@example.org", "--name", "A"]
        ).exit_code
        == 0
    )
    again = runner.invoke(
        args=["create-admin", "--email", "A@example.org", "--name", "B"]
    )
    assert again.exit_code != 0 and "already exists" in again.output


def test_seed_demo_prints_working_credentials(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    credentials = re.findall(r"demo (\w+): (\S+) password (\S+)", result.output)
    assert {role for role, _, _ in credentials} == {"sponsor", "editor"}
    for role, email, password in credentials:
        browser = Browser(app.test_client())
        assert browser.login(email, password).status_code == 302
        assert browser.get(f"/{role}/documents").status_code == 200
    second = runner.invoke(args=["seed-demo"])
    assert second.output == result.output  # same users, shown again


def test_seed_demo_is_refused_in_production(make_app, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 12 + "8Hq2-Lm4Vx7Rt1Zp9Kw3Jn6")
    app = make_app(APP_ENV="production", SQLALCHEMY_DATABASE_URI="sqlite://")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "development only" in result.output
