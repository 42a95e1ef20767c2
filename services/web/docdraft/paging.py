"""One page of rows, newest first, for lists that page (a page past the last
is the last)."""

import math

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .extensions import db


def newest_first(model, condition, page, size):
    """(rows, page, pages, total): page `page` of `model`'s rows matching
    `condition`, highest id first, with each row's `actor` loaded."""
    total = db.session.scalar(select(func.count()).select_from(model).where(condition))
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    rows = db.session.scalars(
        select(model)
        .where(condition)
        .options(selectinload(model.actor))
        .order_by(model.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return rows, page, pages, total
