"""What a user can be told about: one row per kind of notification.

The table is the one definition of the kinds: the services' calls, the
preferences form on /account and the unsubscribe links all read it.
"""

from dataclasses import dataclass

from ..models import Role


@dataclass(frozen=True)
class Kind:
    name: str
    # The preference's label on /account ("Email me when ...").
    label: str
    # Who can receive it, so that /account offers only what can happen to them.
    roles: tuple
    # What holds while the user has no NotificationPreference row for it.
    email_default: bool = True
    in_app_default: bool = True
    # Whether the user chooses the in-app part too (else it is always shown).
    in_app_optional: bool = False
    # A decision on the user's own account: always sent, never unsubscribed,
    # and the one kind a pending or rejected user receives.
    account_decision: bool = False


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "account_approved",
            "your account is approved",
            (Role.sponsor, Role.editor),
            account_decision=True,
        ),
        Kind(
            "account_rejected",
            "your account is rejected",
            (Role.sponsor, Role.editor),
            account_decision=True,
        ),
        Kind("assigned", "a document is assigned to you", (Role.editor,)),
        Kind("unassigned", "a document is given to another editor", (Role.editor,)),
        Kind("submitted", "a document is submitted for your review", (Role.editor,)),
        Kind("reopened", "an approved document is reopened", (Role.editor,)),
        Kind("changes_requested", "an editor requests changes", (Role.sponsor,)),
        Kind("approved", "an editor approves your document", (Role.sponsor,)),
        Kind(
            "comment",
            "someone comments on your document",
            (Role.sponsor, Role.editor),
        ),
        Kind(
            "suggestion_ready",
            "a suggestion is written for your document",
            (Role.sponsor,),
            email_default=False,
            in_app_default=False,
            in_app_optional=True,
        ),
    )
}

# The kind each review action notifies about (docdraft.services.review).
KIND_OF_ACTION = {
    "submit": "submitted",
    "request_changes": "changes_requested",
    "approve": "approved",
    "reopen": "reopened",
}


def choosable_kinds(role):
    """The kinds a user of `role` sets on /account, in the table's order."""
    return [
        kind
        for kind in KINDS.values()
        if role in kind.roles and not kind.account_decision
    ]
