"""Quiet-hours policies (``--quiet-hours``) and the local window they leave on a given day.

A window is ``(start, end)`` in minutes after the recipient's local midnight, end excluded;
None is a day with no window. The policies: ``off`` (always open), ``tcpa`` (8:00-21:00),
``strict`` (tcpa narrowed by the state table, engine/schedule/statetable.py) and
``HH:MM-HH:MM`` (the user's own window, narrowed by strict).

>>> from datetime import date
>>> parse_quiet_hours("strict").hours(rules_for("TX", parse_quiet_hours("strict")),
...                                   date(2026, 12, 6))   # a Sunday in Texas
(720, 1260)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from engine.errors import ConfigError
from engine.schedule import statetable
from engine.schedule.legaldays import FEDERAL, is_holiday

Minutes = tuple[int, int]
PolicyName = Literal["off", "tcpa", "strict", "own"]

DAY: Minutes = (0, 24 * 60)
NO_STATE = ""      # rules key: no state row applies (tcpa, or a state without a row)
ANY_STATE = "*"    # rules key: the state is unknown, so every row applies at once
POLICY_SYNTAX = ("Use off, tcpa (8:00-21:00 local), strict (tcpa and the state rules), or your "
                 "own local window as HH:MM-HH:MM, e.g. 09:00-19:00 (combined with strict)")
_CLOCK = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


def parse_clock(text: str, where: str = "--quiet-hours", within: str = "") -> int:
    """``"08:30"`` as minutes after midnight (``24:00`` is the end of the day)."""
    match = _CLOCK.fullmatch(text.strip())
    minutes = int(match[1]) * 60 + int(match[2]) if match else -1
    if not 0 <= minutes <= 24 * 60:
        inside = f" in {within!r}" if within else ""
        raise ConfigError(where, "time", f"{text.strip()!r}{inside} is not a time of day",
                          "Write times as HH:MM on a 24-hour clock, e.g. 08:00 or 20:30.")
    return minutes


def parse_window(text: str, where: str = "--quiet-hours") -> Minutes | None:
    """``"09:00-19:00"`` as minutes; ``"closed"`` as None."""
    if text.strip() == "closed":
        return None
    start, dash, end = text.partition("-")
    if not dash:
        raise ConfigError(where, "window", f"{text!r} is not a window", POLICY_SYNTAX + ".")
    window = parse_clock(start, where, text), parse_clock(end, where, text)
    if window[0] >= window[1]:
        raise ConfigError(where, "window", f"{text!r} ends before it starts",
                          "Give the opening first and the closing second, on the same day "
                          "(a window across midnight would fall outside 8:00-21:00 anyway).")
    return window


def narrow(a: Minutes | None, b: Minutes | None) -> Minutes | None:
    """The hours open in both windows (None when they do not overlap)."""
    if a is None or b is None or max(a[0], b[0]) >= min(a[1], b[1]):
        return None
    return max(a[0], b[0]), min(a[1], b[1])


def show(window: Minutes | None) -> str:
    """``(480, 1260)`` as ``"08:00-21:00"``."""
    if window is None:
        return "closed"
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in window)


@dataclass(frozen=True, slots=True)
class StateRule:
    """One row of the state table, parsed."""

    weekdays: Minutes | None
    saturday: Minutes | None
    sunday: Minutes | None
    holidays: frozenset[str]
    sources: tuple[str, ...]

    def hours(self, day: date) -> Minutes | None:
        if is_holiday(day, self.holidays):
            return None
        weekday = day.weekday()
        return self.weekdays if weekday < 5 else self.saturday if weekday == 5 else self.sunday


def _row(state: str, row: tuple[str, str, str, str, tuple[str, ...]]) -> StateRule:
    weekdays, saturday, sunday, banned, sources = row
    where = f"engine/schedule/statetable.py {state}"
    holidays = {"none": frozenset(), "christmas": frozenset({"christmas"}),
                "legal": FEDERAL | frozenset(statetable.STATE_HOLIDAYS.get(state, ()))}[banned]
    return StateRule(parse_window(weekdays, where), parse_window(saturday, where),
                     parse_window(sunday, where), holidays, sources)


STATE_RULES: dict[str, StateRule] = {s: _row(s, r) for s, r in statetable.ROWS.items()}
TCPA: Minutes = parse_window(statetable.TCPA_HOURS) or DAY


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A ``--quiet-hours`` policy. ``own`` is the user's window for the ``own`` policy."""

    name: PolicyName
    own: Minutes | None = None

    def __str__(self) -> str:
        return show(self.own) if self.name == "own" else self.name

    @property
    def quiet(self) -> bool:
        """False for ``off``: nothing is ever held back."""
        return self.name != "off"

    @property
    def uses_states(self) -> bool:
        return self.name in ("strict", "own")

    def hours(self, rules: str, day: date) -> Minutes | None:
        """The local window on ``day`` under the rules key ``rules`` (see ``rules_for``)."""
        if self.name == "off":
            return DAY
        window: Minutes | None = TCPA if self.own is None else narrow(TCPA, self.own)
        if not self.uses_states or rules == NO_STATE:
            return window
        for row in STATE_RULES.values() if rules == ANY_STATE else (STATE_RULES[rules],):
            window = narrow(window, row.hours(day))
        return window


OFF = QuietHours("off")


def parse_quiet_hours(text: str) -> QuietHours:
    """``--quiet-hours`` as a policy; a ConfigError naming the value and the fix otherwise."""
    word = text.strip().lower()
    named = {"off": OFF, "tcpa": QuietHours("tcpa"), "strict": QuietHours("strict")}
    if word in named:
        return named[word]
    if not re.fullmatch(r"[\d:]+\s*-\s*[\d:]+", word):
        raise ConfigError("--quiet-hours", "policy", f"{text!r} is not a policy",
                          POLICY_SYNTAX + ".")
    own = parse_window(word)
    if narrow(own, TCPA) is None:
        raise ConfigError("--quiet-hours", "window", f"{text!r} leaves no time inside "
                          f"{statetable.TCPA_HOURS}, the federal window it is combined with",
                          "Choose hours that overlap 08:00-21:00 local time, e.g. 09:00-19:00.")
    return QuietHours("own", own)


def rules_for(state: str | None, policy: QuietHours) -> str:
    """The rules key a recipient's state maps to under a policy: the state itself when the
    table has a row for it and the policy reads the table, ``ANY_STATE`` when the state is
    unknown (the strictest reading: every row applies), ``NO_STATE`` otherwise."""
    if not policy.uses_states:
        return NO_STATE
    if state is None:
        return ANY_STATE
    return state.upper() if state.upper() in STATE_RULES else NO_STATE
