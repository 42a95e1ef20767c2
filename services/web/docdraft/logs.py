"""Log lines: UTC times with their zone, and no line a user can forge.

Every record's message has its line breaks escaped before it is written, so
an email or a name with "\\n2026-... INFO login user=1" in it stays on its
own line, visibly quoted.
"""

import logging
import time

FORMAT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class UtcFormatter(logging.Formatter):
    converter = time.gmtime


class OneLinePerRecord(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if "\n" in message or "\r" in message:
            record.msg = message.replace("\r", "\\r").replace("\n", "\\n")
            record.args = None
        return True


def configure():
    """The root logger's format, unless the host process configured it."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(UtcFormatter(FORMAT, DATE_FORMAT))
    handler.addFilter(OneLinePerRecord())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
