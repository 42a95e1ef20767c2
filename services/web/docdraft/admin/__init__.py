from flask import Blueprint

bp = Blueprint("admin", __name__)

from ..training import dataset_routes, train_routes  # noqa: E402,F401
from . import jobs, models, routes  # noqa: E402,F401  (routes register themselves on bp)
