"""Pure decisions: what an answer means, what to do next and when, how often to poll.

The one retry policy of the engine. Every request path (the batch POST in the sender, the
GETs of the tracker and reconciliation, the token calls, the 401 refresh, and a resumed run
deciding whether a failed chunk may go out again) asks ``classify`` what an answer means for
its kind of request and ``decide`` what to do about it. No loop carries a rule of its own.

A POST that creates a batch has no idempotency key: any 5xx (500, 502, 503, 504, with a JSON
or an HTML body, with or without Retry-After) or no answer at all may come after the batch was
created, since a gateway or load balancer in front of the service answers for a backend that
may have gone on, so it is ambiguous and is reconciled, never resent blindly; so is a 408 and
a 4xx that is not RingCentral's JSON error (a gateway's page). Only answers that say the
request was not processed are certain: 429, 401, 413 and the documented JSON 4xx refusals.
A GET changes nothing, so the same answers are simply retried.

Each rule is in one place: what a status means per kind of request (``classify``: a 502 is
repeated for a GET and a token call, reconciled for a batch POST); which answers' Retry-After
count (``holds_back``: a 429, and a 503 that carries one); when a request is given up
(``Rules.exhausted``: the attempts, and the one deadline of its kind, ``Rules.deadline``);
and the numbers (``Rules``, the profile's ``[retry]`` section read field by field).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.core.bounds import bounds

# The engine's own error codes, for failures that carry no answer from RingCentral.
NOT_SENT = "NOT-SENT"        # no connection was made: certainly not sent
NO_ANSWER = "NO-ANSWER"      # the request went out and no answer came
BAD_ANSWER = "BAD-ANSWER"    # an answer came that could not be read
# A recipient an adopted batch holds no message for: the server rejected it, and which code
# it gave came back only in the 201 answer that was lost.
LOST_CODE = "A2P-CODE-LOST-WITH-ANSWER"


class Kind(enum.Enum):
    """What a request does, which decides what an unclear answer means."""

    CREATE = "create"    # POST /batches: may send SMS; never repeated unless proved absent
    READ = "read"        # GET: changes nothing, safe to repeat
    TOKEN = "token"      # the OAuth calls: repeated when limited, failing or unanswered


class Verdict(enum.Enum):
    OK = "ok"
    RETRY = "retry"            # certainly not processed: send again after a backoff
    REFRESH = "refresh"        # 401: not processed; get a new token, then send again
    SPLIT = "split"            # 413: the body is too large; send it in halves
    FAIL = "fail"              # the server refused it; sending again would not help
    AMBIGUOUS = "ambiguous"    # it may have been processed: never resend blindly


class Action(enum.Enum):
    DONE = "done"              # the answer is the one wanted
    RETRY = "retry"            # send again after ``Step.delay`` seconds
    REFRESH = "refresh"        # get a new token, then send again at once
    SPLIT = "split"            # send the body in two halves
    RECONCILE = "reconcile"    # look on the server for what the request may have created
    FAIL = "fail"              # refused: report it, sending again would not help
    GIVE_UP = "give-up"        # retryable, but the attempts (or the time) ran out


@dataclass(frozen=True, slots=True)
class Rules:
    """The numbers of the retry policy: the profile's ``[retry]`` section, every key a field
    (engine/config reads the section into this by its fields; the defaults live only here)."""

    max_attempts: int = field(default=6, metadata=bounds(1, 100))
    backoff_initial: float = field(default=1.0, metadata=bounds(0.0))
    backoff_max: float = field(default=60.0, metadata=bounds(0.0))
    request_timeout: float = field(default=300.0, metadata=bounds(1.0))
    # After a lost answer, how long the server may still create the batch (docs/correctness.md).
    reconcile_window: float = field(default=600.0, metadata=bounds(0.0))
    # After an adopted batch completes, how long its message store is read again until it
    # lists every message; then the recipients it lacks are reported pending
    # (docs/correctness.md).
    store_window: float = field(default=300.0, metadata=bounds(0.0))
    # The deadline of a batch POST (``deadline``): seconds after a chunk's first request past
    # which the chunk is not sent again in this run, whatever its last answer was (a 429, or
    # a lost answer or 5xx proved to have created nothing): it fails, and --resume sends it.
    chunk_deadline: float = field(default=1200.0, metadata=bounds(0.0))

    def deadline(self, kind: Kind) -> float | None:
        """Seconds after a request's first attempt past which it is not tried again; None:
        its attempts alone bound it. One notion per kind: a batch POST counts from its
        chunk's first request, over every request of the chunk; a GET and a token call have
        none (``max_attempts`` waits of at most ``backoff_max`` or a Retry-After)."""
        return self.chunk_deadline if kind is Kind.CREATE else None

    def exhausted(self, kind: Kind, attempt: int, elapsed: float) -> str | None:
        """Why a request of ``kind`` may not be tried again after ``attempt`` tries and
        ``elapsed`` seconds, naming the setting that ran out; None while it may.

        >>> Rules(chunk_deadline=30.0).exhausted(Kind.CREATE, 2, 31.0)
        '30 s passed (retry.chunk_deadline)'
        """
        deadline = self.deadline(kind)
        if deadline is not None and elapsed >= deadline:
            return f"{deadline:g} s passed (retry.chunk_deadline)"
        if attempt >= self.max_attempts:
            return f"{attempt} attempts were made (retry.max_attempts)"
        return None


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    delay: float = 0.0


def classify(status: int, kind: Kind = Kind.CREATE, from_rc: bool = True) -> Verdict:
    """What an HTTP status means for a request of ``kind``. ``from_rc``: the answer is
    RingCentral's own JSON error (``errorCode``/``errors``); a 4xx that is not (a gateway's
    HTML 403/404 during a deploy) or a 408 (RFC 9110: not processed, *may* be repeated, but
    said by whatever stopped waiting) does not prove a batch POST refused: it is ambiguous,
    reconciled, and resent only once proved absent.

    >>> classify(404, from_rc=False), classify(408), classify(400)
    (<Verdict.AMBIGUOUS: 'ambiguous'>, <Verdict.AMBIGUOUS: 'ambiguous'>, <Verdict.FAIL: 'fail'>)
    """
    if 200 <= status < 300:
        return Verdict.OK
    if status == 429:
        return Verdict.RETRY
    if kind is Kind.TOKEN:
        # A token call creates no SMS: a failing or limited server is simply asked again;
        # a refusal is read by the caller (credentials_refused) to say what to fix.
        return Verdict.RETRY if status >= 500 else Verdict.FAIL
    if status == 401:
        return Verdict.REFRESH
    if status == 413 and kind is Kind.CREATE:
        return Verdict.SPLIT
    if 400 <= status < 500 and kind is Kind.CREATE and (status == 408 or not from_rc):
        return Verdict.AMBIGUOUS
    if 400 <= status < 500:
        return Verdict.FAIL
    # 500, 502, 503, 504 and anything unexpected: a GET is simply repeated; a POST that
    # creates a batch may have created it before the gateway answered.
    return Verdict.AMBIGUOUS if kind is Kind.CREATE else Verdict.RETRY


def unanswered(went_out: bool, kind: Kind = Kind.CREATE) -> Verdict:
    """No answer at all: not sent (no connection) is safe to repeat; a request that went out
    is ambiguous when it creates a batch."""
    if not went_out or kind is not Kind.CREATE:
        return Verdict.RETRY
    return Verdict.AMBIGUOUS


def decide(verdict: Verdict, attempt: int, elapsed: float = 0.0,
           retry_after: float | None = None, *, kind: Kind = Kind.CREATE,
           rules: Rules = Rules(), rng: random.Random | None = None,
           may_refresh: bool = False) -> Step:
    """What to do after ``attempt`` tries (1 = the first) of a request of ``kind`` and
    ``elapsed`` seconds since its first (``Rules.deadline``: a batch POST since its chunk's).

    ``retry_after`` is the wait the answer asked for (``asked_wait``): the rate budget
    already holds every request of its group back for it, so the retry itself waits no
    longer. ``may_refresh``: the request may still get a new token (a 401 was not
    processed, so even a POST is safe to repeat; the caller bounds how often,
    ``MAX_REFRESHES``).

    >>> decide(Verdict.RETRY, 6).action
    <Action.GIVE_UP: 'give-up'>
    >>> decide(Verdict.RETRY, 1, retry_after=30.0)
    Step(action=<Action.RETRY: 'retry'>, delay=0.0)
    """
    if verdict is Verdict.OK:
        return Step(Action.DONE)
    if verdict is Verdict.SPLIT:
        return Step(Action.SPLIT)
    if verdict is Verdict.AMBIGUOUS:
        return Step(Action.RECONCILE)
    if verdict is Verdict.REFRESH:
        return Step(Action.REFRESH if may_refresh else Action.FAIL)
    if verdict is Verdict.FAIL:
        return Step(Action.FAIL)
    if rules.exhausted(kind, attempt, elapsed) is not None:
        return Step(Action.GIVE_UP)
    if retry_after is not None:
        return Step(Action.RETRY)
    return Step(Action.RETRY, backoff(attempt - 1, rules.backoff_initial, rules.backoff_max,
                                      rng or random.Random()))


# OAuth errors (RFC 6749) of a token endpoint that refuses the credentials themselves.
REFUSED_CREDENTIALS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
FRESH_REFUSALS = 3   # tokens refused with 401 in a row before serving any request
MAX_REFRESHES = 10   # 401s one request may meet, each followed by a new token


def credentials_refused(status: int, oauth_error: str | None) -> bool:
    """Only a token endpoint's 400/401 with an OAuth error naming the credentials means they
    are wrong; any other answer (a 5xx, an HTML page, a 404) is the server's problem.

    >>> credentials_refused(400, "invalid_grant"), credentials_refused(502, None)
    (True, False)
    """
    return status in (400, 401) and oauth_error in REFUSED_CREDENTIALS


class Renew(enum.Enum):
    REFRESH = "refresh"    # the refresh token buys a new access token
    LOGIN = "login"        # present the JWT again: a new session
    GIVE_UP = "give-up"    # new tokens are refused as soon as issued: the server is failing


def renewal(used: bool, fresh_refusals: int, can_refresh: bool) -> Renew:
    """After a 401 on the current token. ``used``: the token served a request before (it
    expired or was revoked, which is normal); ``fresh_refusals``: tokens in a row refused
    before serving anything, this one included. A token refused as soon as it was issued
    is not refreshed (its session may be the problem) but replaced by a new login, and
    when new logins keep being refused the server, not the credentials, is failing.

    >>> renewal(True, 0, True), renewal(False, 1, True), renewal(False, 3, True)
    (<Renew.REFRESH: 'refresh'>, <Renew.LOGIN: 'login'>, <Renew.GIVE_UP: 'give-up'>)
    """
    if fresh_refusals >= FRESH_REFUSALS:
        return Renew.GIVE_UP
    return Renew.REFRESH if used and can_refresh else Renew.LOGIN


def resendable(status: int | None, code: str | None, proved_absent: bool) -> bool:
    """A failed chunk, on resume: may it go out again? Only when it certainly created
    nothing, which the recorded proof says, not the mere presence of a status: reconciliation
    proved that none of its requests created a batch (``proved_absent``: the journaled reason
    ``proved-absent``, whatever its last answer was, or none), no connection was made, or the
    last answer says the server did nothing (429, 401). A 5xx or a lost answer without that
    proof may have created the batch."""
    if proved_absent or code == NOT_SENT:
        return True
    if not status:
        return False
    return classify(status, Kind.CREATE) in (Verdict.RETRY, Verdict.REFRESH)


def answer_fault(body: Any, count: int, owned: Container[str],
                 not_before: float | None = None) -> str | None:
    """Why a batch POST's 2xx answer cannot be taken as this chunk's batch (None: it can).
    Such an answer says nothing sure about what was created (a gateway's page, a body cut
    short, another request's answer), so the request is ambiguous, never final: its batch is
    looked for. A batch id another chunk of this run owns, or a size that does not fit the
    chunk's ``count`` messages (``batchSize`` plus the rejected, or ``batchSize`` alone:
    whether it counts the rejected is not documented), is an answer meant for another
    request; so is a ``creationTime`` before ``not_before`` (the request's moment on a
    calibrated server clock, less its margin; None: not calibrated, not checked).

    >>> answer_fault({"id": "b", "batchSize": 2, "rejected": [{"index": 3}]}, 3, set())
    >>> answer_fault({"id": "b", "batchSize": 5, "rejected": []}, 3, set())
    'its batchSize 5 and 0 rejected do not add up to the 3 messages sent'
    """
    if not isinstance(body, dict):
        return "it is not a JSON object"
    batch_id, size, rejected = body.get("id"), body.get("batchSize"), body.get("rejected", [])
    if not isinstance(batch_id, str) or not batch_id:
        return f"it names no batch id ({batch_id!r})"
    if type(size) is not int:
        return f"its batchSize is {size!r}"
    if rejected is None:
        rejected = []
    if not isinstance(rejected, list):
        return f"its rejected is {type(rejected).__name__}, not a list"
    if batch_id in owned:
        return (f"it names batch {batch_id}, which another chunk of this run was given: an "
                "answer meant for another request")
    if size != count and size + len(rejected) != count:
        return (f"its batchSize {size} and {len(rejected)} rejected do not add up to the "
                f"{count} messages sent")
    created = body.get("creationTime")
    if not_before is not None and isinstance(created, str):
        try:
            early = datetime.fromisoformat(created).timestamp() < not_before
        except ValueError:
            early = False
        if early:
            earliest = datetime.fromtimestamp(not_before, UTC).isoformat()
            return (f"its batch was created ({created}) before the earliest this request could "
                    f"have made one ({earliest}: when it went out, on the server's clock as "
                    "this run's batches calibrate it, less the margin)")
    return None


def rejected_fault(rejected: Sequence[Any], tos: Sequence[str]) -> str | None:
    """Why a 201's ``rejected`` cannot be this chunk's (None: it can): an index outside the
    chunk or repeated, or a ``to`` (digits compared) that is not the chunk's recipient at
    that index, as in another request's answer.

    >>> rejected_fault([{"index": 2, "to": "+14155550101"}], ["+14155550100", "14155550101"])
    >>> rejected_fault([{"index": 1, "to": ["+14155550199"]}], ["+14155550100"])
    'rejected[0] names +14155550199 at index 1, where the chunk has +14155550100'
    """
    seen: set[int] = set()
    for k, item in enumerate(rejected):
        index = item.get("index") if isinstance(item, dict) else None
        if type(index) is not int or not 1 <= index <= len(tos):
            return f"rejected[{k}] has index {index!r}, outside the chunk's {len(tos)}"
        if index in seen:
            return f"rejected[{k}] repeats index {index}"
        seen.add(index)
        to = item.get("to")
        if isinstance(to, list) and to:  # the spec's shape: an array of numbers
            to = to[0]  # (RejectedRecipientResponseResource.to)
        if isinstance(to, str) and _digits(to) != _digits(tos[index - 1]):
            return f"rejected[{k}] names {to} at index {index}, where the chunk has " \
                   f"{tos[index - 1]}"
    return None


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def backoff(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(maximum, initial * 2**attempt)].

    >>> backoff(0, 1.0, 60.0, random.Random(0)) <= 1.0
    True
    """
    return rng.uniform(0.0, min(maximum, initial * 2.0**attempt))


def holds_back(status: int, retry_after_header: str | None) -> bool:
    """Whether an answer holds its whole throttling group back: a 429 always (for its
    Retry-After, or RingCentral's documented 60 s), a 503 when it carries a Retry-After
    (the service says when it can take requests again). Neither kind of answer changes what
    the request's own verdict is."""
    return status == 429 or (status == 503 and retry_after_header is not None)


def asked_wait(status: int, retry_after_header: str | None, default: float) -> float | None:
    """The seconds an answer asks its throttling group to wait (``default`` for a 429 without
    Retry-After); None when it asks nothing. Never more than ``RETRY_AFTER_CAP``: a gateway's
    "86400" or "inf" would otherwise freeze the whole group (``retry_after_note`` says when
    the cap applied, for the caller's log).

    >>> asked_wait(503, "7", 60.0), asked_wait(503, None, 60.0), asked_wait(429, None, 60.0)
    (7.0, None, 60.0)
    >>> asked_wait(503, "86400", 60.0), asked_wait(503, "inf", 60.0), asked_wait(429, "-5", 60.0)
    (300.0, 0.0, 60.0)
    """
    if not holds_back(status, retry_after_header):
        return None
    return retry_after(retry_after_header, default if status == 429 else 0.0)


# The longest wait a Retry-After may impose on a throttling group: RingCentral asks for 60 s;
# more than a few minutes is a gateway's mistake, and the run would look hung.
RETRY_AFTER_CAP = 300.0


def retry_after(header: str | None, default: float) -> float:
    """Seconds from a Retry-After header (seconds form), at most ``RETRY_AFTER_CAP``;
    ``default`` when absent or odd (not a number, not finite, negative). RingCentral
    documents 60 s when the header is missing."""
    if header is None:
        return default
    try:
        seconds = float(header)
    except ValueError:
        return default
    if not 0.0 <= seconds < float("inf"):  # NaN, inf and negative alike
        return default
    return min(seconds, RETRY_AFTER_CAP)


def retry_after_note(header: str | None) -> str | None:
    """The warning to log when ``retry_after`` did not take a Retry-After as given.

    >>> retry_after_note("86400")
    'Retry-After 86400 capped at 300 s'
    >>> retry_after_note("30") is None, retry_after_note(None) is None
    (True, True)
    """
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None  # an HTTP-date or junk: the default, as before
    if not 0.0 <= seconds < float("inf"):
        return f"Retry-After {header!r} ignored (not a finite wait): default used"
    if seconds > RETRY_AFTER_CAP:
        return f"Retry-After {header} capped at {RETRY_AFTER_CAP:g} s"
    return None


def next_poll(interval: float, maximum: float, unchanged_rounds: int) -> float:
    """Poll interval: doubles while nothing changes, back to ``interval`` on progress."""
    return min(maximum, interval * 2.0**unchanged_rounds)
