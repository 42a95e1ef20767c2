"""What every job backend offers the app: submit, start, stop, health.

The autodoc rows are the record of every job; a backend only wakes a worker
(`submit`), and the worker claims whatever waits (queue.claim_batch).
"""


class JobBackend:
    """The interface; the in-process, Celery and manual backends implement it."""

    name = "none"

    def submit(self, autodoc_ids):
        """Say that these committed jobs wait. Best effort: the sweeper
        delivers again whatever is lost."""
        raise NotImplementedError

    def submit_training(self, model_id):
        """Say that this committed model waits to be trained (best effort,
        as `submit`: the sweeper nudges again)."""
        raise NotImplementedError

    def submit_mail(self):
        """Say that committed mail waits in the outbox (best effort, as
        `submit`: the sweeper nudges again while mail is due)."""
        raise NotImplementedError

    def start(self):
        """Start running jobs in this process, if this backend does so."""

    def stop(self):
        """Stop taking jobs in this process (tests; daemons end with it)."""

    def health(self):
        """{check name: problem, or None when fine}, for /readyz."""
        return {}


class ManualBackend(JobBackend):
    """Delivers nothing: jobs stay queued until something runs them (tests)."""

    name = "manual"

    def __init__(self):
        self.delivered = []
        self.trainings = []
        self.mail_nudges = 0  # tests send with docdraft.mail.sender.send_due

    def submit(self, autodoc_ids):
        self.delivered.extend(autodoc_ids)

    def submit_training(self, model_id):
        self.trainings.append(model_id)

    def submit_mail(self):
        self.mail_nudges += 1

    def health(self):
        return {"worker": None}
