"""Log filters: a client error (4xx) is one line, a server error keeps its traceback.

Django logs every 403 ("Forbidden (Permission denied): /path") and every refused Host
header ("Invalid HTTP_HOST header: …") with the exception attached, so each became a
twenty-line traceback in gunicorn's log, burying the real errors. The request was answered
correctly (a 403 or 400 page); the path and the status say all there is to say.
"""

from __future__ import annotations

import logging


class OneLineClientErrors(logging.Filter):
    """Drops the traceback of records about a response with a 4xx status (django.request,
    django.security.*); the message stays. Everything else passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
