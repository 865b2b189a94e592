"""``--log-format json``: the logs on stderr as one JSON object a line, for a scheduler or a
log shipper to read without parsing text.

Each line holds ``time`` (UTC ISO 8601), ``level``, ``logger`` and ``message``; an API
request's line (``-v``) adds ``method``, ``path``, ``status``, RingCentral's ``RCRequestId``
and ``duration`` (seconds), which engine/rc/client.py passes as the record's ``http``; a
record with an exception adds ``exception`` (its type) and ``traceback`` (the whole of it, one
string), as a command's failure under ``-v`` does. The records carry no bodies and no tokens,
so neither do the lines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line.update(http)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            # the whole traceback (an exception group's too) as one string field: the line
            # stays one JSON object, where the text format would print many plain lines
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """The stderr handler's formatter for ``--log-format``."""
    if log_format == "json":
        return JsonLines()
    return logging.Formatter("a2p: %(name)s: %(message)s")
