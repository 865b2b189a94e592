"""Pure decisions: how to treat an answer, how long to back off, when to poll again."""

from __future__ import annotations

import enum
import random


class Verdict(enum.Enum):
    OK = "ok"
    RETRY = "retry"            # certainly not processed: send again after a backoff
    REFRESH = "refresh"        # 401: refresh the token, then send again once
    SPLIT = "split"            # 413: the body is too large; send it in halves
    FAIL = "fail"              # the server refused it; sending again would not help
    AMBIGUOUS = "ambiguous"    # it may have been processed: never resend blindly


def classify(status: int) -> Verdict:
    """What an HTTP status means for a batch POST (no idempotency key exists)."""
    if 200 <= status < 300:
        return Verdict.OK
    if status in (429, 503):
        return Verdict.RETRY
    if status == 401:
        return Verdict.REFRESH
    if status == 413:
        return Verdict.SPLIT
    if 400 <= status < 500:
        return Verdict.FAIL
    return Verdict.AMBIGUOUS  # 500, 502, 504 and anything unexpected


def backoff(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(maximum, initial * 2**attempt)].

    >>> backoff(0, 1.0, 60.0, random.Random(0)) <= 1.0
    True
    """
    return rng.uniform(0.0, min(maximum, initial * 2.0**attempt))


def retry_after(header: str | None, default: float) -> float:
    """Seconds from a Retry-After header (seconds form); ``default`` when absent or odd.
    RingCentral documents 60 s when the header is missing."""
    if header is None:
        return default
    try:
        return max(0.0, float(header))
    except ValueError:
        return default


def next_poll(interval: float, maximum: float, unchanged_rounds: int) -> float:
    """Poll interval: doubles while nothing changes, back to ``interval`` on progress."""
    return min(maximum, interval * 2.0**unchanged_rounds)
