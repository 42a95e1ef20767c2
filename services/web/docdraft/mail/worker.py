"""The mail worker: Celery on MAIL_QUEUE, in the web image (no TensorFlow).

    celery -A docdraft.mail.worker worker --pool solo --queues mail

It loads no model: `docdraft.jobs.worker` (which does) is never imported.
Beat (docdraft.jobs.worker beat) sends it a sweep every JOB_SWEEP_SECONDS:
retries whose time came, and mail whose nudge was lost.
"""

from .. import create_app
from ..jobs import dispatch

# Named so that `celery -A` finds `celery`, not the Flask app.
flask_app = create_app({"JOB_BACKEND": "celery"})
celery = dispatch.backend(flask_app).celery
