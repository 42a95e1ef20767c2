"""/metrics: jobs by state, job timing histograms, request latency; private."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from docdraft.extensions import db
from docdraft.metrics import JOB_LOOKBACK, JOB_WINDOW
from docdraft.models import Autodoc, utcnow


def test_metrics_count_jobs_and_requests(
    client, sponsor, editor, create_document, fake_generator, run_queued
):
    create_document(sponsor, editor.user_id)
    create_document(sponsor, editor.user_id)
    run_queued()
    create_document(sponsor, editor.user_id)  # still queued
    text = client.get("/metrics").get_data(as_text=True)
    assert 'docdraft_jobs{state="done"} 2.0' in text
    assert 'docdraft_jobs{state="queued"} 1.0' in text
    assert "docdraft_job_queue_wait_seconds_count 2.0" in text
    assert 'docdraft_job_generation_seconds_bucket{le="+Inf"} 2.0' in text
    assert 'docdraft_request_seconds_count{endpoint="sponsor.new_document"' in text


def _move_job(app, autodoc_id, **ago):
    """Set a job's timestamps to the given ages (timedeltas before now)."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            update(Autodoc)
            .where(Autodoc.id == autodoc_id)
            .values(**{column: now - age for column, age in ago.items()})
        )
        db.session.commit()


def test_job_histograms_cover_only_the_recent_window(
    app, client, sponsor, editor, create_document, fake_generator, run_queued
):
    for _ in range(3):
        create_document(sponsor, editor.user_id)
    run_queued()
    with app.app_context():
        old, waited_long, recent = db.session.scalars(
            select(Autodoc.id).order_by(Autodoc.id)
        ).all()
    minute = timedelta(minutes=1)
    past = JOB_WINDOW + minute  # finished before the window
    _move_job(app, old, queued_at=past, started_at=past, finished_at=past)
    # Finished just now, but queued before the lookback: out of the read.
    _move_job(app, waited_long, queued_at=JOB_LOOKBACK + minute)
    _move_job(app, recent, queued_at=3 * minute, started_at=minute)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'docdraft_jobs{state="done"} 3.0' in text
    assert "docdraft_job_queue_wait_seconds_count 1.0" in text
    assert 'docdraft_job_queue_wait_seconds_bucket{le="60"} 0.0' in text
    assert 'docdraft_job_queue_wait_seconds_bucket{le="120"} 1.0' in text
    assert 'docdraft_job_generation_seconds_bucket{le="30"} 0.0' in text
    assert 'docdraft_job_generation_seconds_bucket{le="+Inf"} 1.0' in text


@pytest.mark.parametrize(
    ("address", "header", "status"),
    [
        ("93.184.216.34", None, 404),
        ("93.184.216.34", "Bearer wrong", 404),
        ("93.184.216.34", "Bearer s3cret-token", 200),
        ("10.1.2.3", None, 200),
    ],
)
@pytest.mark.app_config(METRICS_TOKEN="s3cret-token")
def test_metrics_answer_only_the_private_network_or_the_token(
    client, address, header, status
):
    headers = {"Authorization": header} if header else {}
    response = client.get(
        "/metrics", headers=headers, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == status
