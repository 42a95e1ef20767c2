"""/metrics: jobs by state, job timing histograms, request latency; private."""

import pytest


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
