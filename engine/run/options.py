"""What ``engine.send`` is asked to do, as one frozen value (``SendOptions``).

``engine.send(recipients, SendOptions(sender=..., text=...))`` and the keyword form
``engine.send(recipients, sender=..., text=...)`` are the same call: the keywords build the
options. Hooks (``on_event``, ``on_read``, ``on_wait``) and the seams a test replaces
(``transport``, ``clock``, ``wall``, ``sleep``) are options too; ``stop`` ends a run.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

import anyio

from engine.config.credentials import Credentials
from engine.config.settings import Settings
from engine.core.consent import DEFAULT_MAX_AGE, check_scope
from engine.core.optouts import Scope
from engine.errors import UsageError
from engine.reading import ReadOptions
from engine.run.optiontypes import check_types
from engine.run.scheduling import Scheduling, parse_scheduling
from engine.schedule.pacing import check_send_rate

if TYPE_CHECKING:
    from engine.rc.transport import Transport

# accepted: every batch has an id; completed: every batch is Completed (the default);
# delivered: and then every message has its receipt (or the delivery timeout passed).
Wait = Literal["completed", "accepted", "delivered"]
OnAmbiguous = Literal["reconcile", "resend", "fail"]
WAITS: tuple[Wait, ...] = get_args(Wait)
ON_AMBIGUOUS: tuple[OnAmbiguous, ...] = get_args(OnAmbiguous)
# Each event is a JSON-ready dict; a hook may take it as engine.types.Event to narrow it.
# A coroutine function, or a plain function (a lambda, a list's append): the run calls it
# and awaits what it returns only when that is awaitable (SendOptions.emit).
OnEvent = Callable[[Any], Awaitable[None] | None]
# (records read so far, share of the input consumed when it is known)
ReadProgress = Callable[[int, float | None], None]
OnWait = Callable[[str, float], None]
PathLike = str | os.PathLike[str]


async def _ignore(event: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class SendOptions:
    """Every setting of one send. ``wait`` is one of WAITS; ``delivery_timeout`` bounds the
    wait for receipts per batch. ``journal`` names the file the run records itself in
    (created when the first chunk is about to be sent); ``resume`` continues the run a
    journal describes (same input, sender and text), never sending an accepted chunk again;
    ``report`` names a file the report is also written to. Setting ``stop`` ends the run
    early: no request that creates a batch starts after it, requests on the wire finish, and
    the report says ``interrupted``. ``on_event(event)`` hears every event (a JSON-ready
    dict): a coroutine function, or a plain one such as a list's ``append`` (its result is
    awaited only when it is awaitable). ``on_wait(group, seconds)`` is told when requests
    wait for a rate budget. ``preflight`` checks the sender before the first POST
    (engine/run/preflight.py): a SenderError stops the run with nothing sent."""

    sender: str | None = None
    text: str | None = None
    template: str | None = None
    # Settings, or a profile name or .toml path; None: on resume the journal's profile, else
    # the one RC_SERVER_URL calls for (config.choose_profile)
    config: Settings | str | None = None
    credentials: Credentials | None = None
    read: ReadOptions | None = None
    # --suppress: files (paths) or iterables of numbers never to text (engine/run/suppress.py)
    suppress: Sequence[PathLike | Iterable[str]] = ()
    # RingCentral's opt-outs (engine/run/consent.py), read before the first POST: consent
    # False skips them; suppress_scope "account" or "pair" (None: the journal's on a resume,
    # else account); max_consent_age: the seconds they may be old when a batch is first
    # POSTed, else read again (engine/run/consentrefresh.py; 0: before every batch)
    consent: bool = True
    suppress_scope: Scope | None = None
    max_consent_age: float = DEFAULT_MAX_AGE
    concurrency: int | None = None
    max_batch_bytes: int | None = None
    max_batch_messages: int | None = None
    wait: Wait = "completed"
    on_ambiguous: OnAmbiguous = "reconcile"
    delivery_timeout: float = 3600.0
    revoke: bool = True
    preflight: bool = True
    journal: PathLike | None = None
    resume: PathLike | None = None
    report: PathLike | None = None
    # a Prometheus text file of the run's counters, rewritten every few seconds and at the
    # end (engine/run/metrics.py); None: none
    metrics: PathLike | None = None
    on_event: OnEvent = _ignore
    on_read: ReadProgress | None = None
    on_wait: OnWait | None = None
    transport: Transport | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    stop: anyio.Event | None = None
    wall: Callable[[], float] = time.time  # this machine's calendar clock (epoch seconds)
    # The schedule (issue 22, engine/run/rounds.py): None is the default (off, no cap, now,
    # never, no column, 600 s) on a new run, and the journal's on a resume (a value given
    # again must be the same). quiet_hours: off | tcpa | strict | HH:MM-HH:MM; at and
    # expire_at: ISO 8601 with a zone, or aware datetimes; window_margin: seconds.
    quiet_hours: str | None = None
    tz_column: str | None = None
    # daily_cap None on a new scheduled send: the registration tier's cap when the
    # pre-flight reads one (6,000 for LowVolume), else none; "none": no cap at all
    daily_cap: int | Literal["none"] | None = None
    at: str | datetime | None = None
    expire_at: str | datetime | None = None
    window_margin: float | None = None
    # a scheduled send's assumed processing rate, messages a second per sender (None: 1, the
    # published 10DLC figure), until the batches' status polls measure it: no batch is POSTed
    # that the server cannot process, after what it has queued, before the round's deadline
    # (engine/schedule/pacing.py); a send without a schedule is never paced
    send_rate: float | None = None
    # a scheduled run whose next round is more than 5 minutes away ends (EXIT_WAITING, 75)
    # instead of sleeping; --resume continues it
    exit_when_waiting: bool = False

    def __post_init__(self) -> None:
        check_types(self)  # an untyped caller's wrong value, named in the library's words
        if self.max_batch_messages is not None and self.max_batch_messages < 1:
            raise UsageError(f"max_batch_messages {self.max_batch_messages}: a request holds "
                             "at least one message; pass 1 or more, or None for no cap.")
        if self.suppress_scope is not None:
            check_scope(self.suppress_scope)
        if not self.max_consent_age >= 0:
            raise UsageError(f"max_consent_age {self.max_consent_age}: give the seconds a "
                             "read of the opt-outs stays good, 0 or more (0: read them before "
                             "every batch).")
        self.scheduling()  # refused here, before anything is read
        if self.send_rate is not None:
            try:
                check_send_rate(self.send_rate)
            except ValueError as exc:
                raise UsageError(f"send_rate (--send-rate): {exc}; give your number's "
                                 "throughput, e.g. 1 for 10DLC or 8 for toll-free.") from None

    async def emit(self, event: Any) -> None:
        """Tell ``on_event`` of ``event``: a coroutine function's call is awaited, a plain
        function's result only when it is awaitable (an async callable object's)."""
        result = self.on_event(event)
        if inspect.isawaitable(result):
            await result

    def scheduling(self) -> Scheduling:
        """The schedule options validated (a UsageError naming the option otherwise)."""
        now = None if self.resume is None else datetime.fromtimestamp(self.wall(), UTC)
        return parse_scheduling(self.quiet_hours, self.tz_column, self.daily_cap, self.at,
                                self.expire_at, self.window_margin, now)

    def schedule_flags(self) -> dict[str, Any]:
        """The schedule options given (not None), by their flag."""
        given = {"--quiet-hours": self.quiet_hours, "--tz-column": self.tz_column,
                 "--daily-cap": self.daily_cap, "--at": self.at,
                 "--expire-at": self.expire_at, "--window-margin": self.window_margin}
        return {flag: value for flag, value in given.items() if value is not None}

    @classmethod
    def of(cls, options: SendOptions | None, keywords: Mapping[str, Any]) -> SendOptions:
        """The options given, with ``keywords`` over them; an unknown keyword is refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise TypeError(f"send() got unexpected keyword arguments {', '.join(unknown)}; "
                            f"the options are: {', '.join(sorted(names))}")
        return dataclasses.replace(options or cls(), **keywords)


class SendKeywords(TypedDict, total=False):
    """SendOptions' fields as keyword arguments of ``send`` and ``send_events``, so a type
    checker knows each name and its type (a test holds the two lists equal)."""

    sender: str | None
    text: str | None
    template: str | None
    config: Settings | str | None
    credentials: Credentials | None
    read: ReadOptions | None
    suppress: Sequence[PathLike | Iterable[str]]
    consent: bool
    suppress_scope: Scope | None
    max_consent_age: float
    concurrency: int | None
    max_batch_bytes: int | None
    max_batch_messages: int | None
    wait: Wait
    on_ambiguous: OnAmbiguous
    delivery_timeout: float
    revoke: bool
    preflight: bool
    journal: PathLike | None
    resume: PathLike | None
    report: PathLike | None
    metrics: PathLike | None
    on_event: OnEvent
    on_read: ReadProgress | None
    on_wait: OnWait | None
    transport: Transport | None
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    stop: anyio.Event | None
    wall: Callable[[], float]
    quiet_hours: str | None
    tz_column: str | None
    daily_cap: int | Literal["none"] | None
    at: str | datetime | None
    expire_at: str | datetime | None
    window_margin: float | None
    send_rate: float | None
    exit_when_waiting: bool


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What one run's sender is told, fixed for its lifetime (built from the options)."""

    settings: Settings
    sender: str
    text: str | None
    on_ambiguous: str = "reconcile"
    resume_since: float | None = None  # server clock: where a resumed run's history begins
