"""The mail worker: Celery on MAIL_QUEUE, in the web image (no TensorFlow).

    celery -A docdraft.mail.worker worker --pool solo --queues mail

It loads no model: `docdraft.jobs.worker` (which does) is never imported.
Beat's sweep (docdraft.jobs.worker beat) nudges it while mail is due.
"""

from .. import create_app
from ..jobs import dispatch

# Named so that `celery -A` finds `celery`, not the Flask app.
flask_app = create_app({"JOB_BACKEND": "celery"})
celery = dispatch.backend(flask_app).celery
