"""Why a scheduled send's recipient is not sent yet (issue 22 item 7), decided by its window
key: the report counts these by rule, ``a2p outcomes`` tells each recipient its own.

A key is open now, waiting for its next opening, or closed (no opening in the horizon, or
none before --expire-at): ``KeyState``. With that and the run's instant-wide facts (--at,
--expire-at, the cap day, a carrier halt) a recipient's fate is one of

- ``expired``: --expire-at passed (rule ``expire-at``);
- ``daily-cap``: its window is open but the day's cap is full (rule ``daily-cap``) or the
  carriers' caps halted the day (rule ``carrier-cap``); it goes on the next cap day;
- ``deferred``: before --at (rule ``at``), its window closed (rule ``quiet-hours``, with its
  next opening, or none before --expire-at), or its window open and the cap not full: the
  next round sends it at once (rule ``due``: a round stopped, or a window about to close);
- ``no-window``: its window never opens under the run's policy and margin (no opening in the
  horizon, --expire-at aside: the rules repeat every week, so none ever will; e.g. an own
  window 20:00-21:00 under strict for Florida): not sent, and not retryable under this
  policy; a run left with only these ends (rule ``no-window``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from engine.schedule.caps import CapDay, Halt
from engine.schedule.rules import QuietHours
from engine.schedule.waves import Status
from engine.schedule.windows import WindowKey, open_windows, stamp, zone_info

FateKind = Literal["deferred", "daily-cap", "expired", "no-window"]
Rule = Literal["quiet-hours", "daily-cap", "carrier-cap", "at", "expire-at", "due", "no-window"]
RULES: tuple[Rule, ...] = ("quiet-hours", "daily-cap", "carrier-cap", "at", "expire-at", "due",
                           "no-window")


@dataclass(frozen=True, slots=True)
class KeyState:
    """A key at an instant: ``open`` (``at`` its deadline), ``waiting`` (``at`` its next
    opening), ``closed`` (no opening before --expire-at: ``at`` None) or ``never`` (no
    opening under the policy at all)."""

    state: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fate:
    """A recipient left: what (``kind``), by which rule, and when it may go (``opens``: its
    next opening, the next cap day, --at; None when no opening is in the horizon, or never:
    expired)."""

    kind: FateKind
    rule: Rule
    opens: datetime | None

    def describe(self, key: WindowKey | None, expire_at: datetime | None = None,
                 journal: str = "JOURNAL") -> str:
        """The outcome's description: the fate first (``deferred: ``...), then when."""
        if self.kind == "no-window":
            zones = ", ".join(key.zones) if key is not None and key.zones else "any zone"
            rules = key.rules if key is not None and key.rules else "tcpa"
            return (f"no-window: its window never opens under the run's quiet hours and "
                    f"margin ({zones}, rules {rules}); not sent, and not retryable under "
                    "this policy: send it as a new run with other --quiet-hours, or not at "
                    "all")
        if self.kind == "expired":
            when = "" if expire_at is None else f" {stamp(expire_at)}"
            return (f"expired: --expire-at{when} passed before it was sent; not sent, and "
                    "not retryable without a new run")
        why = {"quiet-hours": "outside its window (quiet hours)",
               "daily-cap": "the day's cap was full",
               "carrier-cap": "carriers failed the day's messages over their caps",
               "at": "before --at", "due": "its window is open: the next round sends it",
               "expire-at": "--expire-at"}[self.rule]
        if self.opens is None and expire_at is not None:
            return (f"{self.kind}: {why}; no window opens for it before --expire-at "
                    f"{stamp(expire_at)}: unless one does, it expires then, unsent")
        if self.opens is None:
            when = "; no window opens for it in the schedule's horizon: a later round " \
                   "looks again"
        else:
            when = f"; next opening {stamp(self.opens)}{local(self.opens, key)}: a later " \
                   "round sends it"
        return f"{self.kind}: {why}{when} (continue the run with a2p send --resume {journal})"


def local(instant: datetime, key: WindowKey | None) -> str:
    """`` (Sat 2026-12-05 08:00 EST America/New_York)``: the instant on the recipient's
    clock (its first zone), or on the cap's (Pacific) when it has none."""
    zone = key.zones[0] if key is not None and key.zones else "America/Los_Angeles"
    there = instant.astimezone(zone_info(zone))
    return f" ({there:%a %Y-%m-%d %H:%M %Z} {zone})"


def fate_of(state: KeyState, decision: str, day: CapDay, halt: Halt | None,
            at: datetime | None, now: datetime) -> Fate:
    """The fate of the recipients of a key in ``state`` at ``now``, given the run's timing
    decision (Timing.decide: wait, send, expired), the cap day and a carrier halt."""
    if state.state == "never":
        return Fate("no-window", "no-window", None)
    if decision == "expired":
        return Fate("expired", "expire-at", None)
    if decision == "wait":
        return Fate("deferred", "at", at)
    if state.state == "waiting":
        return Fate("deferred", "quiet-hours", state.at)
    if state.state == "closed":
        return Fate("deferred", "quiet-hours", None)
    if halt is not None:
        return Fate("daily-cap", "carrier-cap", halt.until)
    if day.full:
        return Fate("daily-cap", "daily-cap", day.ends)
    return Fate("deferred", "due", now)


def reopening(fate: Fate, key: WindowKey, policy: QuietHours, margin: timedelta,
              until: datetime | None, lead: timedelta) -> Fate:
    """A daily-cap fate's next opening on the recipient's own clock: the first instant its
    window is open at or after the cap's (a new cap day at 00:00 Pacific is 03:00 in New
    York, where the window opens at 8:00). None: no opening in the horizon."""
    if fate.kind != "daily-cap" or fate.opens is None:
        return fate
    found = open_windows(key, policy, fate.opens, margin=margin, until=until, lead=lead)
    return replace(fate, opens=found[0].opens if found else None)


def states_of(status: Status | None, never: frozenset[WindowKey] = frozenset()
              ) -> dict[WindowKey, KeyState]:
    """Every key of ``status`` with its state (open, waiting, closed, or ``never`` for the
    keys in ``never``: no window under the policy) at its instant."""
    if status is None:
        return {}
    return {**{k: KeyState("open", d) for k, d in status.open},
            **{k: KeyState("waiting", o) for k, o in status.waiting},
            **{k: KeyState("never" if k in never else "closed") for k in status.closed}}
