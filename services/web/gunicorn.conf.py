"""gunicorn settings for the web image; each can be overridden from the environment.

Web processes never import TensorFlow (JOB_BACKEND=celery hands jobs to the
worker image), so several workers are cheap. Never `preload_app` with the
in-process backend: each process must start its own worker thread.
"""

import os
import shutil
import tempfile

# Where only nginx reaches it: loopback by default; compose names the web
# container's address on the network it shares with nginx alone. Several
# addresses may be given, separated by spaces.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split()
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# nginx in front is the one proxy hop, and only its address is believed:
# gunicorn takes X-Forwarded-Proto from it alone, and the app reads
# X-Forwarded-For from the same list (TRUSTED_PROXIES, docdraft.proxies).
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "127.0.0.1,::1")
# nginx refuses first (large_client_header_buffers 4 4k: a longer request
# line is its 414, a longer header its 431), so that no client ever reads
# gunicorn's own unstyled 400. These are gunicorn's ceilings, above anything
# nginx passes on: 4 buffers of 4k hold at most ~4,100 header lines.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 8192

# Request latency summed over all workers (docdraft.metrics): prometheus_client
# keeps each process's numbers in this directory, emptied at every start. Set
# it to a directory of this deployment's own (prod-local: its state
# directory); unset, a fresh private one (mode 700), never a shared fixed name.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    private = tempfile.mkdtemp(prefix="docdraft-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = private


def on_starting(server):
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, mode=0o700)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
