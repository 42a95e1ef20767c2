from flask import Blueprint

bp = Blueprint("admin", __name__)

from ..training import dataset_routes  # noqa: E402,F401  (/admin/models/dataset)
from . import jobs, models, routes  # noqa: E402,F401  (routes register themselves on bp)
