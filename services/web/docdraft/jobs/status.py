"""What /readyz reports about the job system: broker, and a worker's trouble.

A Celery worker that cannot start leaves its reason in Redis for ten
minutes (it exits, so it cannot answer itself); a healthy start clears it.
"""

import redis

PROBLEM_KEY = "docdraft:worker-problem"
PROBLEM_TTL = 600


def _redis(app):
    return redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2
    )


def report_worker_problem(app, problem):
    """Record (or, with None, clear) why the worker cannot take jobs."""
    client = _redis(app)
    if problem is None:
        client.delete(PROBLEM_KEY)
    else:
        client.set(PROBLEM_KEY, problem, ex=PROBLEM_TTL)


def job_checks(app, backend):
    """{check: problem or None} for the configured job backend."""
    if app.config["JOB_BACKEND"] == "celery":
        try:
            client = _redis(app)
            client.ping()
        except redis.RedisError as exc:
            return {"broker": f"unreachable: {exc}"}
        problem = client.get(PROBLEM_KEY)
        return {"broker": None, "worker": problem.decode() if problem else None}
    return {"worker": getattr(backend, "load_error", None)}
