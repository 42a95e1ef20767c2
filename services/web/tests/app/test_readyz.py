"""/readyz tells everyone ready or not; only the operators read why.

The broker here is a closed port (127.0.0.1:1), so the check fails with a
driver error that names the host and port: what an outside caller must not
read. "Outside" is a public client address; inside is the private network
or METRICS_TOKEN, the rule /metrics uses.
"""

import logging

import pytest

from docdraft.jobs import dispatch
from docdraft.jobs.backend import JobBackend

BROKEN_BROKER = pytest.mark.app_config(
    JOB_BACKEND="celery",
    REDIS_URL="redis://127.0.0.1:1/0",
    METRICS_TOKEN="operators-token",
)
OUTSIDE = {"REMOTE_ADDR": "93.184.216.34"}


@BROKEN_BROKER
def test_an_outside_caller_reads_only_not_ready(client, caplog):
    with caplog.at_level(logging.WARNING, logger="docdraft"):
        response = client.get("/readyz", environ_base=OUTSIDE)
    assert response.status_code == 503
    assert response.get_json() == {"ready": False}
    text = response.get_data(as_text=True)
    for internal in ("127.0.0.1", ":1", "unreachable", "Error", "broker", "redis"):
        assert internal not in text
    # The operators still find the reason, in the log.
    assert "broker: unreachable" in caplog.text
    assert "127.0.0.1:1" in caplog.text


@BROKEN_BROKER
@pytest.mark.parametrize(
    ("environ", "headers"),
    [
        ({"REMOTE_ADDR": "10.1.2.3"}, {}),
        (OUTSIDE, {"Authorization": "Bearer operators-token"}),
    ],
    ids=["private-network", "metrics-token"],
)
def test_the_operators_read_which_check_failed_and_why(client, environ, headers):
    response = client.get("/readyz", environ_base=environ, headers=headers)
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"].startswith("unreachable")
    assert "127.0.0.1:1" in checks["broker"]


def test_a_ready_service_says_so_to_everyone(client):
    response = client.get("/readyz", environ_base=OUTSIDE)
    assert response.status_code == 200
    assert response.get_json() == {"ready": True}


class TroubledBackend(JobBackend):
    """A backend whose worker cannot start, installed through the seam."""

    def submit(self, autodoc_ids):
        pass

    def health(self):
        return {"worker": "model unusable: ModelLoadError: gone"}


def test_readyz_reports_the_installed_backends_health(app, client):
    dispatch.install(app, TroubledBackend())
    response = client.get("/readyz", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks == {
        "database": "ok",
        "worker": "model unusable: ModelLoadError: gone",
    }


def test_only_a_job_backend_can_be_installed(app):
    with pytest.raises(TypeError):
        dispatch.install(app, object())
