"""gunicorn settings for the web image; each can be overridden from the environment.

Web processes never import TensorFlow (JOB_BACKEND=celery hands jobs to the
worker image), so several workers are cheap. Never `preload_app` with the
in-process backend: each process must start its own worker thread.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# nginx in front is the one proxy hop; the app trusts exactly
# TRUSTED_PROXY_HOPS of X-Forwarded-* (ProxyFix), not gunicorn.
forwarded_allow_ips = ""

# Request latency summed over all workers (docdraft.metrics): prometheus_client
# keeps each process's numbers in this directory, emptied at every start.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "docdraft-metrics")
)


def on_starting(server):
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
