"""The batch lifecycle as one table: every state change of a chunk is checked here."""

from __future__ import annotations

from engine.errors import IllegalTransition

PLANNED = "planned"
SUBMITTING = "submitting"
ACCEPTED = "accepted"      # the server gave a batch id
AMBIGUOUS = "ambiguous"    # the request went out and no answer came
SPLIT = "split"            # 413: replaced by two halves
FAILED = "failed"          # refused (4xx) or retries exhausted: certainly not sent
UNKNOWN = "unknown"        # cannot tell whether it was sent: the user decides
COMPLETED = "completed"    # the server finished processing it

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
}
FINAL = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)


def advance(current: str, new: str) -> str:
    """``new``, when the table allows it after ``current``; raises otherwise."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"chunk cannot go from {current} to {new}; this is a bug in "
                                "the engine, please report it with the journal")
    return new
