"""What /readyz reports about the job system: the backend's own health.

A Celery worker that cannot start leaves its reason in Redis for ten
minutes (it exits, so it cannot answer itself); a healthy start clears it.
"""

import redis

PROBLEM_KEY = "docdraft:worker-problem"
PROBLEM_TTL = 600


def redis_client(app):
    return redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2
    )


def report_worker_problem(app, problem):
    """Record (or, with None, clear) why the worker cannot take jobs."""
    client = redis_client(app)
    if problem is None:
        client.delete(PROBLEM_KEY)
    else:
        client.set(PROBLEM_KEY, problem, ex=PROBLEM_TTL)


def job_checks(app, backend):
    """{check: problem or None} for the configured job backend."""
    return backend.health()
