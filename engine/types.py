"""The types of the library's surface, for a type checker (``mypy --strict``).

``engine.send`` returns a ``Report``; ``engine.send_events`` yields ``Event``s, a union that
``event["event"] == "rejected"`` narrows to ``RejectedEvent``; ``SendKeywords`` are the
keyword arguments of both (``SendOptions``' fields); ``Wait``, ``OnAmbiguous``, ``Scope``,
``InputFormat`` and ``OutcomeFilter`` are the strings their options accept. At run time the
report and the events are plain dicts; these only name their keys and value types.

>>> from engine.types import Report, Event                                 # doctest: +SKIP
"""

from __future__ import annotations

from engine.core.optouts import Scope
from engine.reading.options import Dedupe, InputFormat
from engine.results.names import OutcomeFilter
from engine.run.options import OnAmbiguous, SendKeywords, Wait
from engine.run.shapes import (
    Batch,
    BatchCompletedEvent,
    BatchDeliveredEvent,
    ChunkFailedEvent,
    ChunkReason,
    ChunkStatus,
    ChunkSubmittedEvent,
    Consent,
    ConsentEvent,
    Event,
    ExpiredEvent,
    RejectedEvent,
    Rejection,
    Report,
    Requests,
    ResumedEvent,
    RunStatus,
    Schedule,
    StatusTotals,
    SummaryEvent,
    Suppressed,
    Totals,
    WaitingEvent,
    WarningEvent,
)

__all__ = [
    "Batch",
    "BatchCompletedEvent",
    "BatchDeliveredEvent",
    "ChunkFailedEvent",
    "ChunkReason",
    "ChunkStatus",
    "ChunkSubmittedEvent",
    "Consent",
    "ConsentEvent",
    "Dedupe",
    "Event",
    "ExpiredEvent",
    "InputFormat",
    "OnAmbiguous",
    "OutcomeFilter",
    "RejectedEvent",
    "Rejection",
    "Report",
    "Requests",
    "ResumedEvent",
    "RunStatus",
    "Schedule",
    "Scope",
    "SendKeywords",
    "StatusTotals",
    "SummaryEvent",
    "Suppressed",
    "Totals",
    "Wait",
    "WaitingEvent",
    "WarningEvent",
]
