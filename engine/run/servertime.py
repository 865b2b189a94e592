"""A scheduled send's clock (issue 22, adv22 F5): this machine's calendar clock plus the
server's offset, measured at each round's login from the token answer's Date header. The
decisions (tolerance, warning) are engine/schedule/clocks.py's.

A round's limits (open windows, the cap day's room, the deadline) are judged before its
login; when the login shows the offset has moved (the first round on a machine whose clock
is off, or an NTP step since), the round sends nothing (its deadline is now) and the loop
judges the next round at once by the server's time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from engine.schedule.clocks import applied_offset, moved, skew_warning


class Dated(Protocol):
    """What the clock reads of a client: the server's clock minus ours (None: no Date)."""

    @property
    def date_offset(self) -> float | None: ...


@dataclass
class ServerClock:
    """The schedule's now: ``wall`` (this machine's, epoch seconds) plus ``offset`` (the
    server's minus ours, when beyond the tolerance)."""

    wall: Callable[[], float]
    offset: float = 0.0
    changed: bool = False  # the last login moved the offset: that round's limits were stale

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall() + self.offset, UTC)

    def machine(self, epoch: float) -> float:
        """An instant on the server's clock as this machine's clock reads it."""
        return epoch - self.offset

    def notes(self) -> tuple[tuple[str, str], ...]:
        """The round's starting warning while the schedule follows the server's clock."""
        return (("clock-skew", skew_warning(self.wall(), self.offset)),) if self.offset else ()

    def measure(self, measured: float | None) -> str | None:
        """Take the offset a login measured: the warning to give when the schedule's clock
        moved (None: it did not). No Date header read (a proxy that strips it) says nothing:
        the offset measured before stands."""
        if measured is None:
            self.changed = False
            return None
        new = applied_offset(measured)
        self.changed = moved(self.offset, new)
        if not self.changed:
            return None
        self.offset = new
        if new:
            return skew_warning(self.wall(), new)
        return ("this machine's clock agrees with the server's again (within a few seconds): "
                "the schedule follows this machine's clock.")


def login_check(clock: ServerClock) -> Callable[[Dated], tuple[float, str] | None]:
    """The round's hook after its login: None when the round's limits stand; else the
    deadline that stops the round sending (now, on this machine's clock) and the warning."""
    def check(client: Dated) -> tuple[float, str] | None:
        warning = clock.measure(client.date_offset)
        return None if warning is None else (clock.wall(), warning)

    return check
