"""The outcomes a recipient can have in ``a2p outcomes``, and the names ``--only`` takes.

Names only, no imports: the command line lists them in its help without loading the outcome
machinery (and what that pulls in) for every command.
"""

from __future__ import annotations

from typing import Literal

REJECTED_LOCAL = "rejected-local"
REJECTED_SERVER = "rejected-server"
DELIVERED = "delivered"
DELIVERY_FAILED = "delivery-failed"
SENDING_FAILED = "sending-failed"
SENT_NO_RECEIPT = "sent-no-receipt"
QUEUED = "queued"
UNKNOWN = "unknown"
NOT_SENT = "not-sent"
# adopted after a lost answer, and not in its batch's message store, which is not complete
# yet: it may have been texted, or rejected; read again later
PENDING = "pending"
# failed because the (sender, recipient) pair is opted out: SMS-RC-413 or SMS-CAR-413 in the
# message store (engine/rc/errorcodes.py OPT_OUT_CODES); never retryable
OPTED_OUT = "opted-out"
OUTCOMES = (REJECTED_LOCAL, REJECTED_SERVER, DELIVERED, DELIVERY_FAILED, SENDING_FAILED,
            SENT_NO_RECEIPT, QUEUED, UNKNOWN, NOT_SENT, PENDING, OPTED_OUT)
# Outcomes read from the message store; the others are known from the journal alone.
FROM_STORE = (DELIVERED, DELIVERY_FAILED, SENDING_FAILED, SENT_NO_RECEIPT, QUEUED, OPTED_OUT)
GROUPS: dict[str, tuple[str, ...]] = {
    "failed": (REJECTED_LOCAL, REJECTED_SERVER, DELIVERY_FAILED, SENDING_FAILED, OPTED_OUT,
               NOT_SENT),
    # the outcome "pending" is one of the group of that name: every fate not final yet
    "pending": (SENT_NO_RECEIPT, QUEUED, PENDING),
}
# rejected-local rows of LCL-OPTED-OUT: on a suppression list (--suppress) or opted out in
# RingCentral's consent records, never sent
SUPPRESSED = "suppressed"
# a scheduled send's not-sent rows by their fate column (engine/schedule/fates.py FateKind;
# a test holds the two equal): --only expired is the not-sent rows whose fate is expired
FATES = ("deferred", "daily-cap", "expired", "no-window")
FILTERS = tuple(dict.fromkeys((*OUTCOMES, *GROUPS, "retryable", SUPPRESSED, *FATES)))
# FILTERS for a type checker (``engine.outcomes(only=...)``); a test holds the two equal
OutcomeFilter = Literal["rejected-local", "rejected-server", "delivered", "delivery-failed",
                        "sending-failed", "sent-no-receipt", "queued", "unknown", "not-sent",
                        "pending", "opted-out", "failed", "retryable", "suppressed",
                        "deferred", "daily-cap", "expired", "no-window"]
