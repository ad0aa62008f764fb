"""Access-log lines of bounded length: uvicorn logs each request's full target, so a client
sending long URLs would write that much log per request; the target is cut to MAX_TARGET."""

from __future__ import annotations

import logging

MAX_TARGET = 200  # characters of the path and query kept in a log line
ACCESS_LOGGER = "uvicorn.access"


class ShortTargets(logging.Filter):
    """uvicorn's access record is ``'%s - "%s %s HTTP/%s" %d'`` with the target third."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str)
                and len(args[2]) > MAX_TARGET):
            record.args = (*args[:2], args[2][:MAX_TARGET] + "…", *args[3:])
        return True


def cap_access_log() -> None:
    """Add the filter to uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, ShortTargets) for f in logger.filters):
        logger.addFilter(ShortTargets())
