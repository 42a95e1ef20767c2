"""Flask extensions, created unbound and initialised by the app factory."""

import logging

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# The client address is request.remote_addr: ProxyFix sets it from exactly
# TRUSTED_PROXY_HOPS proxies, never from a header a client can forge.
limiter = Limiter(key_func=get_remote_address, on_breach=lambda hit: _log_breach(hit))


def _log_breach(hit):
    from . import audit  # imports the models, which import this module

    logging.getLogger("docdraft.security").warning(
        "rate limit %s hit from %s on %s", hit.limit, request.remote_addr, request.path
    )
    audit.rate_limited(hit.limit)
