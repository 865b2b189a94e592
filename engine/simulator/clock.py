"""A simulated clock that two processes share without talking to each other: simulated time is
a start instant plus the real monotonic time elapsed since an anchor, times a speed.

Written ``START@xSPEED`` (``2026-03-07T05:00:00-05:00@x3600``: an hour a second from 05:00
Eastern, anchored when it is read) or ``START@xSPEED@ANCHOR``, where ANCHOR is the reading of
``time.monotonic()`` at which simulated time was START. ``spec()`` always gives the anchored
form, so a simulator and an engine process (or a run killed and resumed) started apart read
the same time: ``CLOCK_ENV`` carries it to a child, ``a2p simulate --clock`` and the
``[simulator] clock`` setting read it, and ``GET /_sim/clock`` tells it. The monotonic clock
is the machine's, shared by its processes (not across machines).

The engine takes it as the library's ``clock``, ``wall`` and ``sleep`` options; the CLI keeps
the real clock.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from engine.errors import ConfigError

CLOCK_ENV = "A2P_SIM_CLOCK"
SYNTAX = ("Write START@xSPEED, START an ISO 8601 time with its offset and SPEED the simulated "
          "seconds per real second, e.g. 2026-03-07T05:00:00-05:00@x3600 (an optional third "
          "part @ANCHOR is the time.monotonic() reading at START, as spec() writes it)")
_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
_SPEC = re.compile(rf"(?P<start>[^@]+)@x(?P<speed>{_NUMBER})(?:@(?P<anchor>-?{_NUMBER}))?")


@dataclass(frozen=True, slots=True)
class SimClock:
    """Simulated time: ``start`` (epoch seconds) at the real monotonic reading ``anchor``,
    then ``speed`` simulated seconds per real second."""

    start: float
    speed: float
    anchor: float
    monotonic: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ConfigError("clock", "speed", f"{self.speed} is not a positive speed", SYNTAX)

    @classmethod
    def parse(cls, text: str, where: str = "--clock",
              monotonic: Callable[[], float] = time.monotonic) -> SimClock:
        """The clock ``text`` describes; without an anchor it starts now."""
        match = _SPEC.fullmatch(text.strip())
        start = _instant(match["start"]) if match else None
        if match is None or start is None:
            raise ConfigError(where, "clock", f"{text!r} is not a simulated clock", SYNTAX)
        speed = float(match["speed"])
        if not speed > 0:
            raise ConfigError(where, "clock", f"{text!r} has speed {speed}", SYNTAX)
        anchor = float(match["anchor"]) if match["anchor"] else monotonic()
        return cls(start, speed, anchor, monotonic)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> SimClock | None:
        """The clock ``CLOCK_ENV`` names, None when it is unset or empty."""
        text = (os.environ if env is None else env).get(CLOCK_ENV, "")
        return cls.parse(text, CLOCK_ENV, monotonic) if text.strip() else None

    def spec(self) -> str:
        """The anchored form: any process on this machine that reads it keeps the same time."""
        start = datetime.fromtimestamp(self.start, UTC).isoformat()
        return f"{start}@x{self.speed!r}@{self.anchor!r}"

    def wall(self) -> float:
        """Simulated calendar time, epoch seconds."""
        return self.start + (self.monotonic() - self.anchor) * self.speed

    def clock(self) -> float:
        """Simulated monotonic time: the same reading (it never goes back)."""
        return self.wall()

    def real_seconds(self, simulated: float) -> float:
        """How long ``simulated`` seconds last for real."""
        return max(0.0, simulated) / self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time (``seconds / speed`` for real)."""
        await anyio.sleep(self.real_seconds(seconds))

    def now(self) -> datetime:
        """Simulated time as an aware datetime in UTC."""
        return datetime.fromtimestamp(self.wall(), UTC)


def _instant(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None  # a start without an offset means nothing on a clock shared by processes
    return parsed.timestamp()
