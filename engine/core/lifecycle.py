"""The batch lifecycle as one table: every state change of a chunk is checked here."""

from __future__ import annotations

import enum

from engine.errors import IllegalTransition

PLANNED = "planned"
SUBMITTING = "submitting"
ACCEPTED = "accepted"      # the server gave a batch id
AMBIGUOUS = "ambiguous"    # the request went out and no answer came
SPLIT = "split"            # 413: replaced by two halves
FAILED = "failed"          # refused (4xx) or retries exhausted: certainly not sent
UNKNOWN = "unknown"        # cannot tell whether it was sent: the user decides
COMPLETED = "completed"    # the server finished processing it
SUPERSEDED = "superseded"  # never sent, and a resumed run cut its records again as new chunks

TRANSITIONS: dict[str, frozenset[str]] = {
    PLANNED: frozenset({SUBMITTING}),
    # back to planned: the run stopped while the request waited its turn, so it never went out
    SUBMITTING: frozenset({ACCEPTED, AMBIGUOUS, SPLIT, FAILED, SUBMITTING, PLANNED}),
    AMBIGUOUS: frozenset({ACCEPTED, SUBMITTING, UNKNOWN, FAILED}),
    ACCEPTED: frozenset({COMPLETED, UNKNOWN}),
    SPLIT: frozenset(),
    FAILED: frozenset(),
    UNKNOWN: frozenset(),
    COMPLETED: frozenset(),
    SUPERSEDED: frozenset(),
}
FINAL = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
# The ways out of a final state: a resumed run looks again at a chunk left unknown because
# looking for its batch failed or its answer was unreadable (NOT_RECONCILED, UNREADABLE), and
# reads again the message store of an adopted batch that was not complete yet (PENDING).
REOPEN = {UNKNOWN: AMBIGUOUS, COMPLETED: ACCEPTED}


def reopen(current: str) -> str:
    """The state a resumed run takes a final chunk back to; raises when there is none."""
    if current not in REOPEN:
        raise IllegalTransition(f"a {current} chunk cannot be reopened; this is a bug in the "
                                "engine, please report it with the journal")
    return REOPEN[current]


# What a resumed run may replace with new chunks cut from the same records: a chunk that
# certainly was not sent (planned, or failed and resendable: resume.retryable decides). Its
# journal entry is then marked superseded, so that every reader (the resume after this one,
# `a2p outcomes`, the report) sees only the chunks that hold its records now.
SUPERSEDABLE = frozenset({PLANNED, FAILED})
# the states of a chunk that may still be queued on the server: accepted and not seen
# completed, or sent with no answer yet (a batch may exist). An unknown chunk is left out:
# its search ended long after its request, and it would hold a pacing's stall for good.
MAY_BE_QUEUED = frozenset({SUBMITTING, ACCEPTED, AMBIGUOUS})


def supersede(current: str) -> str:
    """SUPERSEDED, for a chunk a resumed run re-cuts; raises for any other."""
    if current not in SUPERSEDABLE:
        raise IllegalTransition(f"a {current} chunk cannot be superseded; this is a bug in "
                                "the engine, please report it with the journal")
    return SUPERSEDED


def advance(current: str, new: str) -> str:
    """``new``, when the table allows it after ``current``; raises otherwise."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"chunk cannot go from {current} to {new}; this is a bug in "
                                "the engine, please report it with the journal")
    return new


class Reason(enum.Enum):
    """Why a chunk is in the state it ended in; journaled, so a resume reads it back rather
    than a sentence written for people."""

    REFUSED = "refused"                  # failed: the server refused it (a 4xx)
    GAVE_UP = "gave-up"                  # failed: still not sent after every attempt
    PROVED_ABSENT = "proved-absent"      # failed: ambiguous each time, proved not created
    NOT_RECONCILED = "not-reconciled"    # unknown: looking on the server failed; look again
    UNREADABLE = "unreadable-answer"     # unknown: an answer unreadable; look again
    NOT_REREADABLE = "not-rereadable"    # unknown: in flight at a stop, input not a file
    HELD = "held"                        # planned: the run stopped before it went out
    ADOPTED = "adopted"                  # accepted: found on the server after a lost answer
    RECOVERED = "recovered"              # adopted, and its server rejections read back
    PENDING = "pending"                  # adopted; its store incomplete: read it again later
    UNCHECKED = "unchecked-rejections"   # accepted; its body unreadable to check the answer
    TOO_LARGE = "too-large"              # split: a 413, sent as two halves
    OPTED_OUT = "opted-out"              # split: proved not sent, resent without new opt-outs
