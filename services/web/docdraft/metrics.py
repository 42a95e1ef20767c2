"""Prometheus metrics at /metrics: jobs by state, queue wait and generation
time (from the job rows, so every worker's jobs count), and request latency.

The two job histograms cover a bounded window, not every job ever done: the
jobs that finished in the last JOB_WINDOW, read at scrape time (workers run
in other processes, other containers, so they cannot observe into this
one's registry). The read is bounded by the queued_at index: only jobs
queued in the last JOB_LOOKBACK are looked at, so a job that waited longer
than that is not in the histograms (docdraft_jobs{state="queued"} shows it
waiting). Being a window, the buckets can go down between scrapes: use
histogram_quantile on them directly, not on rate().

Under gunicorn, request latency is aggregated across worker processes through
PROMETHEUS_MULTIPROC_DIR (set in gunicorn.conf.py). /metrics answers only
the local or private network, or a request carrying METRICS_TOKEN.
"""

import hmac
import ipaddress
import os
import time
from datetime import timedelta

from flask import Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from .extensions import db
from .models import Autodoc, JobStatus, utcnow

REQUEST_SECONDS = Histogram(
    "docdraft_request_seconds",
    "Time to answer a request, by route",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
JOB_WINDOW = timedelta(minutes=15)
JOB_LOOKBACK = timedelta(hours=2)


def init_app(app):
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics)


def _start_timer():
    g.request_started = time.perf_counter()


def _observe(response):
    started = g.pop("request_started", None)
    if started is not None:
        endpoint = request.endpoint or "unmatched"
        REQUEST_SECONDS.labels(request.method, endpoint).observe(
            time.perf_counter() - started
        )
    return response


def metrics():
    if not internal_caller():
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(JobCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def internal_caller():
    """The rule for what only the operators may read (/metrics, /readyz's
    details): a request from the local or private network, or one carrying
    METRICS_TOKEN. The address is the one docdraft.proxies believes."""
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_private


class JobCollector:
    """Counts the jobs by state, and times those finished in the last JOB_WINDOW."""

    def collect(self):
        counts = dict(
            db.session.execute(
                select(Autodoc.status, func.count()).group_by(Autodoc.status)
            ).all()
        )
        jobs = GaugeMetricFamily(
            "docdraft_jobs", "Generation jobs by state", labels=["state"]
        )
        for state in JobStatus:
            jobs.add_metric([state.value], counts.get(state, 0))
        yield jobs
        rows = recently_done()
        yield _histogram(
            "docdraft_job_queue_wait_seconds",
            "From queued to started (the attempt that finished), last 15 minutes",
            [(started - queued).total_seconds() for queued, started, _ in rows],
        )
        yield _histogram(
            "docdraft_job_generation_seconds",
            "From started to done, last 15 minutes",
            [(finished - started).total_seconds() for _, started, finished in rows],
        )


def recently_done():
    """(queued_at, started_at, finished_at) of the jobs done in the last
    JOB_WINDOW, among those queued in the last JOB_LOOKBACK."""
    now = utcnow()
    return db.session.execute(
        select(Autodoc.queued_at, Autodoc.started_at, Autodoc.finished_at).where(
            Autodoc.queued_at >= now - JOB_LOOKBACK,
            Autodoc.status == JobStatus.done,
            Autodoc.finished_at >= now - JOB_WINDOW,
        )
    ).all()


def _histogram(name, documentation, values):
    buckets = [(str(b), sum(v <= b for v in values)) for b in JOB_BUCKETS]
    buckets.append(("+Inf", len(values)))
    return HistogramMetricFamily(
        name, documentation, buckets=buckets, sum_value=sum(values)
    )
