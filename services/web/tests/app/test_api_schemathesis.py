"""Schemathesis against the API, with write tokens: requests generated from
the OpenAPI document find no server error and no answer the document does
not describe (status, content type, body schema).

Each operation runs as its own Hypothesis test inside one pytest test
(schemathesis' pytest plugin does not run on pytest 9: it reads
`request.node._nodeid`, which pytest 9 no longer has).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from docdraft.models import Role

from .test_api_core import bearer, issue_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def check_every_operation(app, token):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def answers_as_documented(case):
            case.call_and_validate(headers=bearer(token), checks=CHECKS)

        answers_as_documented()


@pytest.mark.parametrize("role", [Role.sponsor, Role.editor, Role.admin])
def test_api_answers_as_documented(app, login_as, create_document, role):
    """Tokens of a sponsor with a document, its editor, and an admin."""
    sponsor, editor = login_as(Role.sponsor), login_as(Role.editor)
    create_document(sponsor, editor.user_id)
    user = {Role.sponsor: sponsor, Role.editor: editor}.get(role) or login_as(role)
    check_every_operation(app, issue_token(app, user.user_id))
