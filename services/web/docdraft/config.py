"""Settings, read from the environment when the app is created (never at import)."""

import os
import secrets
from pathlib import Path

# Keys that have been published somewhere (tutorials, our own .env.dev) and so
# protect nothing; production refuses them outright.
KNOWN_WEAK_SECRETS = {
    "dev",
    "secret",
    "changeme",
    "change-me",
    "development-only-not-secret",
    "you-will-never-guess",
}
MIN_SECRET_LENGTH = 32
# A random key of 32+ characters has far more; "aaaa..." or "abab..." has not.
MIN_SECRET_DISTINCT_CHARACTERS = 12
APP_ENVS = ("development", "testing", "production")
TRUE_WORDS = {"1", "true", "yes", "on"}
# Tutorial defaults, and the development password that .env.dev and
# docker-compose.yml publish.
DEFAULT_DB_PASSWORDS = {
    "postgres",
    "password",
    "hello_flask",
    "changeme",
    "secret",
    "docdraft-dev",
}


# Right for `make run` only: production that sends mail must name its own.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"
DEVELOPMENT_MAIL_FROM = "Docdraft <docdraft@localhost>"


class ConfigError(RuntimeError):
    """The environment asks for something unsafe or impossible."""


def load_config(instance_path, overrides=None):
    """Build the config mapping from the environment, then apply `overrides`."""
    env = os.environ
    app_env = (overrides or {}).get("APP_ENV") or env.get("APP_ENV", "development")
    if app_env not in APP_ENVS:
        # A typo must not silently run without production's checks.
        raise ConfigError(
            f"APP_ENV must be one of {', '.join(APP_ENVS)}; got {app_env!r}."
        )
    config = {
        "APP_ENV": app_env,
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'docdraft.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # werkzeug's scrypt (n=2**15, about 0.1 s a hash): deliberately slow.
        # Not read from the environment, so no deployment can weaken it; the
        # test suite lowers n through its overrides (thousands of logins).
        "PASSWORD_HASH_METHOD": "scrypt",
        # inprocess: a worker thread in this process (one process only);
        # manual: nothing runs jobs until asked (tests).
        "JOB_BACKEND": env.get("JOB_BACKEND", "inprocess"),
        # celery: Redis delivers ids to Celery workers (docdraft.jobs.worker)
        # listening on JOB_QUEUE ("generate"; a GPU worker takes its own).
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "JOB_QUEUE": env.get("JOB_QUEUE", "generate"),
        # How many proxies in front set X-Forwarded-*: their headers, and only
        # theirs, give the client address and scheme (0: no proxy).
        "TRUSTED_PROXY_HOPS": int(env.get("TRUSTED_PROXY_HOPS", "0")),
        # The proxies' own addresses: only requests from these peers may say
        # where they came from (docdraft.proxies; gunicorn reads it too).
        "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES", "127.0.0.1,::1"),
        # Rate limits (Flask-Limiter notation). Counters live in memory for
        # one process; in production in Redis, shared by all web workers.
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "1") != "0",
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN", "30/minute"),
        "RATELIMIT_SIGNUP": env.get("RATELIMIT_SIGNUP", "10/hour"),
        "RATELIMIT_ACCOUNT": env.get("RATELIMIT_ACCOUNT", "10 per 15 minutes"),
        # Per user, on every document: a person types far fewer.
        "RATELIMIT_COMMENT": env.get("RATELIMIT_COMMENT", "20/minute"),
        # The same audit event again within this many seconds (same action,
        # actor, target, address and detail) counts on one row (docdraft.audit).
        "AUDIT_REPEAT_SECONDS": int(env.get("AUDIT_REPEAT_SECONDS", "3600")),
        # A browser that logged into an account keeps a device cookie this
        # long; RATELIMIT_ACCOUNT then counts its failures apart from
        # untrusted clients' (docdraft/auth/device_cookies.py).
        "DEVICE_COOKIE_DAYS": int(env.get("DEVICE_COOKIE_DAYS", "180")),
        # /metrics answers private addresses, or this bearer token if set.
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # The only reader of these two: textgen takes them as arguments.
        # A directory or hub id; None: gpt2 if reachable, else the seed model.
        "TEXTGEN_MODEL": env.get("TEXTGEN_MODEL", "").strip() or None,
        # tf (TensorFlow + XLA, the default) or ctranslate2 (int8 on a CPU).
        "TEXTGEN_BACKEND": env.get("TEXTGEN_BACKEND", "").strip() or "tf",
        "TEXTGEN_WARMUP": env.get("TEXTGEN_WARMUP", "1") != "0",
        # Models a worker keeps loaded (its base model and trained ones), and
        # where trained weights live, by sha256 (docdraft/jobs/model_cache.py).
        "TEXTGEN_MAX_MODELS": int(env.get("TEXTGEN_MAX_MODELS", "2")),
        "MODEL_STORE": env.get("MODEL_STORE") or str(Path(instance_path) / "models"),
        # Fine-tuning (docdraft/training/jobs.py): the Celery queue its
        # workers take, and the fewest approved, consented documents to start.
        "TRAIN_QUEUE": env.get("TRAIN_QUEUE", "train"),
        "TRAIN_MIN_DOCUMENTS": int(env.get("TRAIN_MIN_DOCUMENTS", "20")),
        # Seconds. A lease is renewed every third of its length while a job
        # runs; past the time limit a job fails as timed out; a job queued
        # longer than JOB_REDELIVER_AFTER is delivered again by the sweeper.
        "JOB_LEASE_SECONDS": float(env.get("JOB_LEASE_SECONDS", "60")),
        "JOB_TIME_LIMIT": float(env.get("JOB_TIME_LIMIT", "900")),
        "JOB_REDELIVER_AFTER": float(env.get("JOB_REDELIVER_AFTER", "120")),
        "JOB_SWEEP_SECONDS": float(env.get("JOB_SWEEP_SECONDS", "30")),
        "JOB_EXIT_ON_TIMEOUT": False,  # set by the Celery worker process
        # Rows of a worker's running batch: jobs decoded together, joining
        # and leaving between chunks (docdraft.jobs.serving).
        "JOB_BATCH_ROWS": int(env.get("JOB_BATCH_ROWS", "8")),
        # Suggestions one sponsor's documents may have waiting; past it a save
        # keeps the revision but does not queue its suggestion.
        "JOB_MAX_WAITING_PER_USER": int(env.get("JOB_MAX_WAITING_PER_USER", "10")),
        # Where people reach the app: the links in mail (written by workers,
        # outside any request) start with it.
        "APP_BASE_URL": (env.get("APP_BASE_URL") or DEVELOPMENT_BASE_URL).rstrip("/"),
        # The JSON API (docdraft.api): requests per personal access token.
        "RATELIMIT_API": env.get("RATELIMIT_API", "120/minute"),
        # Password reset: asked for like a signup; its link lasts an hour.
        "RATELIMIT_RESET": env.get("RATELIMIT_RESET", "10/hour"),
        "PASSWORD_RESET_SECONDS": int(env.get("PASSWORD_RESET_SECONDS", "3600")),
        # Mail (docdraft.notifications): without MAIL_SERVER, mail is written
        # to the log instead of sent. Workers send it from the outbox table,
        # on MAIL_QUEUE, retrying an SMTP server that is down.
        "MAIL_SERVER": env.get("MAIL_SERVER", "").strip() or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "587")),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "1") != "0",
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": env.get("MAIL_FROM") or DEVELOPMENT_MAIL_FROM,
        "MAIL_QUEUE": env.get("MAIL_QUEUE", "mail"),
        "MAIL_MAX_ATTEMPTS": int(env.get("MAIL_MAX_ATTEMPTS", "25")),
        # The token lives as long as the session: an editor who spends an
        # hour on a prompt must not lose it to an expired form.
        "WTF_CSRF_TIME_LIMIT": None,
        # Bytes. The largest form carries a 100,000-character body and a
        # 200-character name. Sent urlencoded, a 4-byte UTF-8 character takes
        # 12 bytes (%F0%9F%98%80): 1,202,400 bytes, and the other fields add
        # under 1 KB. 1.25 MiB holds that with room, and refuses anything far
        # bigger (413) before it is parsed. nginx's client_max_body_size
        # (services/nginx, services/prodlocal) is the same 1280k.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(1280 * 1024))),
        "SESSION_IDLE_SECONDS": int(env.get("SESSION_IDLE_SECONDS", str(2 * 3600))),
        "SESSION_MAX_SECONDS": int(env.get("SESSION_MAX_SECONDS", str(24 * 3600))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }
    if app_env == "production":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
    config.update(overrides or {})
    uri = normalize_database_url(config["SQLALCHEMY_DATABASE_URI"])
    config["SQLALCHEMY_DATABASE_URI"] = uri
    if not config["SECRET_KEY"] and app_env != "production":
        config["SECRET_KEY"] = _development_secret(instance_path)
    if app_env == "production":
        check_production_config(config)
    return config


def normalize_database_url(url):
    """Point plain PostgreSQL URLs at the psycopg 3 driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_production_config(config):
    """Refuse to run production with a weak key, debug on or default credentials."""
    key = config.get("SECRET_KEY") or ""
    if (
        len(key) < MIN_SECRET_LENGTH
        or len(set(key)) < MIN_SECRET_DISTINCT_CHARACTERS
        or repeating_unit(key) < MIN_SECRET_LENGTH
        or key.lower() in KNOWN_WEAK_SECRETS
    ):
        raise ConfigError(
            f"SECRET_KEY must be set to a random value of at least "
            f"{MIN_SECRET_LENGTH} characters in production, not a known word or "
            "a shorter string repeated "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    debug_env = any(
        os.environ.get(name, "").lower() in TRUE_WORDS
        for name in ("FLASK_DEBUG", "DEBUG")
    )
    if config.get("DEBUG") or debug_env:
        # `flask run --debug` and FLASK_DEBUG=1 would serve the debugger.
        raise ConfigError("DEBUG must be off in production (unset FLASK_DEBUG, DEBUG).")
    if config.get("MAIL_SERVER") and (
        config["APP_BASE_URL"] == DEVELOPMENT_BASE_URL
        or config["MAIL_FROM"] == DEVELOPMENT_MAIL_FROM
    ):
        # Every link in mail would point at 127.0.0.1, from an address that
        # mail servers refuse.
        raise ConfigError(
            "With MAIL_SERVER set, production needs APP_BASE_URL (where people "
            "reach the app, e.g. https://docdraft.example.org) and MAIL_FROM."
        )
    uri = config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        return
    from sqlalchemy.engine import make_url

    password = make_url(uri).password
    if not password or password.lower() in DEFAULT_DB_PASSWORDS:
        raise ConfigError("DATABASE_URL must use a non-default database password.")


def repeating_unit(text):
    """The length of the shortest string that `text` repeats at least twice
    ("abcabcab" -> 3); len(text) when it repeats nothing. A key that repeats
    a shorter string is no stronger than that string."""
    # The longest border (prefix that is also a suffix) by the KMP failure
    # function: text has period len - border.
    border = [0] * len(text)
    for i in range(1, len(text)):
        k = border[i - 1]
        while k and text[i] != text[k]:
            k = border[k - 1]
        border[i] = k + (text[i] == text[k])
    period = len(text) - (border[-1] if text else 0)
    # A period over half the length is no repetition: any text ending with
    # its first character has period len - 1.
    return period if 2 * period <= len(text) else len(text)


def _development_secret(instance_path):
    """A random key kept in instance/, so dev sessions survive a restart."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
