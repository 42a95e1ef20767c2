"""gunicorn settings for the web image; each can be overridden from the environment.

Web processes never import TensorFlow (JOB_BACKEND=celery hands jobs to the
worker image), so several workers are cheap. Never `preload_app` with the
in-process backend: each process must start its own worker thread.
"""

import os

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
