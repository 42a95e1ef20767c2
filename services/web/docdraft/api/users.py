"""Admins list users and decide who gets in, as on /admin/users."""

from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import Role, User, UserStatus
from ..services.users import find_users, set_user_status
from . import bp
from .errors import api_error
from .schemas import Rejection, UserList, UserOut, UserQuery
from .spec import BODY_ERRORS, responses, spec

TAGS = ["users"]


def _admins_only():
    if current_user.role != Role.admin:
        api_error(403, message="Only admins manage users.")


@bp.get("/users")
@spec.validate(resp=responses(HTTP_200=UserList), tags=TAGS)
def list_users(query: UserQuery):
    """Users, pending first, then oldest first (admins only)."""
    _admins_only()
    found = find_users("", query.status, query.page, query.per_page)
    counted = select(func.count()).select_from(User)
    if query.status is not None:
        counted = counted.where(User.status == query.status)
    return UserList(
        users=[UserOut.of(user) for user in found.users],
        page=found.page,
        per_page=query.per_page,
        pages=found.pages,
        total=db.session.scalar(counted),
    )


def _changeable_user(user_id):
    """A sponsor or an editor; admins' own status is fixed (404, as the pages)."""
    user = db.session.get(User, user_id)
    if user is None or user.role == Role.admin:
        api_error(404)
    return user


@bp.post("/users/<int:user_id>/approve")
@spec.validate(resp=responses(404, HTTP_200=UserOut), tags=TAGS)
def approve_user(user_id):
    """Approve a user (admins only); they can log in and work."""
    _admins_only()
    user = _changeable_user(user_id)
    set_user_status(current_user, user, UserStatus.approved)
    return UserOut.of(user)


@bp.post("/users/<int:user_id>/reject")
@spec.validate(resp=responses(*BODY_ERRORS, 404, HTTP_200=UserOut), tags=TAGS)
def reject_user(user_id, json: Rejection):
    """Reject a user (admins only): their sessions end and their tokens are
    revoked for good; `reason` is shown to them."""
    _admins_only()
    user = _changeable_user(user_id)
    set_user_status(current_user, user, UserStatus.rejected, json.reason)
    return UserOut.of(user)
