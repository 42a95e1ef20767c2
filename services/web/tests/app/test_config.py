"""Configuration from the environment; production refuses unsafe settings."""

import re
import secrets
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from docdraft import create_app
from docdraft.config import ConfigError, normalize_database_url, repeating_unit

ROOT = Path(__file__).resolve().parents[4]

STRONG = "k" * 20 + "Q7x-9vLmZ2pR4tW8yB1nC5"


def production(monkeypatch, tmp_path, **env):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("APP_ENV", "production")
    for key in ("SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return create_app({"JOB_BACKEND": "manual"})


@pytest.mark.parametrize(
    "secret", [None, "", "short", "dev", "x" * 31, "changeme", "a" * 32, "ab" * 24]
)
def test_production_refuses_missing_or_weak_secret(monkeypatch, tmp_path, secret):
    env = {} if secret is None else {"SECRET_KEY": secret}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        production(monkeypatch, tmp_path, **env)


@pytest.mark.parametrize(
    "secret",
    [
        "0123456789abcdef" * 2,  # 16 distinct characters, repeated
        "Q7x-9vLmZ2pR4tW8yB1nC5kA" * 4,  # a 24-character unit, 96 characters
        "abcdefghijklmnopqrstu" * 3 + "abcd",  # repeated, then cut anywhere
    ],
)
def test_production_refuses_a_secret_that_repeats_a_short_string(
    monkeypatch, tmp_path, secret
):
    with pytest.raises(ConfigError, match="shorter string repeated"):
        production(monkeypatch, tmp_path, SECRET_KEY=secret)


@pytest.mark.parametrize(
    ("secret", "unit"),
    [("abcabcab", 3), ("abca", 4), ("", 0), (STRONG, len(STRONG)), ("x" * 64, 1)],
)
def test_the_repeating_unit_of_a_secret(secret, unit):
    assert repeating_unit(secret) == unit


def test_random_secrets_of_the_documented_kind_pass(monkeypatch, tmp_path):
    """A 32-character unit repeated twice holds 32 random characters: enough."""
    for secret in [secrets.token_urlsafe(48) for _ in range(20)] + [STRONG * 2]:
        app = production(monkeypatch, tmp_path, SECRET_KEY=secret)
        assert app.config["SECRET_KEY"] == secret


def published_database_password():
    """The development password .env.dev and docker-compose.yml publish."""
    env_dev = (ROOT / ".env.dev").read_text()
    url = re.search(r"^DATABASE_URL=(\S+)", env_dev, re.MULTILINE).group(1)
    password = make_url(url).password
    assert password in (ROOT / "docker-compose.yml").read_text() + env_dev
    return password


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:postgres@db/docdraft",
        "postgresql://hello_flask:hello_flask@db/docdraft",
        "postgresql://app@db/docdraft",
        "postgresql://docdraft:docdraft-dev@db:5432/docdraft",
        "postgresql://docdraft:DocDraft-Dev@db/docdraft",
    ],
)
def test_production_refuses_default_database_credentials(monkeypatch, tmp_path, url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        production(monkeypatch, tmp_path, SECRET_KEY=STRONG, DATABASE_URL=url)


def test_production_refuses_the_published_development_password(monkeypatch, tmp_path):
    password = published_database_password()
    url = f"postgresql://docdraft:{password}@db.internal:5432/docdraft"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        production(monkeypatch, tmp_path, SECRET_KEY=STRONG, DATABASE_URL=url)


def test_production_refuses_debug(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", STRONG)
    with pytest.raises(ConfigError, match="DEBUG"):
        create_app({"APP_ENV": "production", "DEBUG": True, "JOB_BACKEND": "manual"})


@pytest.mark.parametrize("name", ["FLASK_DEBUG", "DEBUG"])
def test_production_refuses_debug_from_the_environment(monkeypatch, tmp_path, name):
    with pytest.raises(ConfigError, match="DEBUG"):
        production(monkeypatch, tmp_path, SECRET_KEY=STRONG, **{name: "1"})


@pytest.mark.parametrize("app_env", ["prod", "Production", " production", "staging"])
def test_an_unknown_app_env_refuses_to_start(monkeypatch, tmp_path, app_env):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("APP_ENV", app_env)
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({"JOB_BACKEND": "manual"})


def test_production_with_strong_settings_starts_with_secure_cookies(
    monkeypatch, tmp_path
):
    app = production(
        monkeypatch,
        tmp_path,
        SECRET_KEY=STRONG,
        DATABASE_URL="postgresql://docdraft:Zq8-long-random@db/docdraft",
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    response = app.test_client().get("/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize(
    "missing",
    [
        {},
        {"APP_BASE_URL": "", "MAIL_FROM": ""},  # .env.prod.example as it comes
        {"APP_BASE_URL": "https://docdraft.example.org"},
        {"MAIL_FROM": "D <d@docdraft.example.org>"},
    ],
)
def test_production_mail_needs_its_own_address_and_links(
    monkeypatch, tmp_path, missing
):
    for key in ("APP_BASE_URL", "MAIL_FROM"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="APP_BASE_URL"):
        production(
            monkeypatch,
            tmp_path,
            SECRET_KEY=STRONG,
            MAIL_SERVER="smtp.example.org",
            **missing,
        )
    app = production(
        monkeypatch,
        tmp_path,
        SECRET_KEY=STRONG,
        MAIL_SERVER="smtp.example.org",
        APP_BASE_URL="https://docdraft.example.org/",
        MAIL_FROM="Docdraft <docdraft@example.org>",
    )
    assert app.config["APP_BASE_URL"] == "https://docdraft.example.org"


def test_development_key_is_random_and_kept_across_restarts(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "development")
    first = create_app({"JOB_BACKEND": "manual"}).config["SECRET_KEY"]
    second = create_app({"JOB_BACKEND": "manual"}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("postgresql://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_the_installed_driver(url, expected):
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(("hops", "seen"), [(0, "10.0.0.9"), (1, "203.0.113.7")])
def test_client_address_comes_only_from_trusted_proxy_hops(make_app, hops, seen):
    from flask import request

    # 10.0.0.9 is the proxy (TRUSTED_PROXIES): its X-Forwarded-For is believed.
    app = make_app(TRUSTED_PROXY_HOPS=hops, TRUSTED_PROXIES="10.0.0.9")
    app.add_url_rule("/whoami", "whoami", lambda: request.remote_addr)
    response = app.test_client().get(
        "/whoami",
        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.get_data(as_text=True) == seen
