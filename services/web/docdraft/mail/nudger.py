"""Wake the mail worker without holding the request that queued the mail.

Publishing to a broker that is down takes seconds (Celery's connection
timeout and retry). A request must not wait for that: its mail is committed
already, the sweeper nudges again, and a password-reset request that took
seconds longer for a known address would tell which addresses are known.
"""

import logging
import threading

log = logging.getLogger("docdraft.mail")


class Nudger:
    """Calls `publish` from a daemon thread of its own; nudges asked for while
    one is being published count as one."""

    def __init__(self, publish):
        self.publish = publish
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def __call__(self):
        self._wanted.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="docdraft-mail-nudge", daemon=True
                )
                self._thread.start()

    def _run(self):
        while self._wanted.wait():
            self._wanted.clear()
            try:
                self.publish()
            except Exception:  # noqa: BLE001 - best effort; the sweeper nudges
                log.warning("mail worker not nudged", exc_info=True)
