"""``a2p plan``'s schedule, for people: the waves with their local windows, UTC times and
counts, the days a daily cap needs, what cannot be sent before ``--expire-at``, and the
counts by zone, by state rule and by where the zones came from (engine/schedule/forecast.py
works them out; ``plan --json`` carries the same under ``schedule``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.schedule.forecast import Forecast
    from engine.schedule.waves import Wave

SOURCE_NAMES = {"column": "the --tz-column column", "libphonenumber": "libphonenumber (by "
                "exchange)", "area-code": "the area-code table", "fallback": "none known "
                "(every US zone: only the hours open in all)"}
RULE_NOTES = {"none": "TCPA 08:00-21:00 only", "every-state": "state unknown: every row"}
SHOWN_ROWS = 12  # zones and rules listed before "and N more"


def describe_schedule(f: Forecast) -> list[str]:
    """The schedule's lines, indented like the plan's table."""
    from engine.schedule import statetable
    from engine.schedule.waves import never_open
    from engine.schedule.windows import stamp

    cap = f"daily cap {f.cap:,} (days from 00:00 America/Los_Angeles)" if f.cap else \
        "no daily cap"
    margin = f"{f.margin / timedelta(minutes=1):g}"  # --window-margin's unit: minutes
    rules = f", state table {statetable.VERSION}" if f.policy.uses_states else ""
    lines = [f"schedule: --quiet-hours {f.policy}{rules}, margin {margin} min, {cap}",
             f"  now {stamp(f.now)}; first possible send {stamp(f.start)}"
             + _start_label(f) + _first_wave(f) + ("" if f.timing.expire_at is None else
                                  f"; expires {stamp(f.timing.expire_at)}")]
    if f.timing.expire_at is not None and f.timing.expire_at <= f.now:
        lines.append(f"  --expire-at {stamp(f.timing.expire_at)} is already past: "
                     "a2p send refuses it (nobody could be sent)")
    if f.schedule.waves:
        lines += ["", f"  {'wave':>4} {'recipients':>12}   {'opens (UTC)':<20} "
                  f"{'last send (UTC)':<20} local window"]
        for number, wave in enumerate(f.schedule.waves, 1):
            lines += _wave(number, wave)
    never = never_open((k for k, _ in f.schedule.unscheduled), f.policy, f.start,
                       margin=f.margin)
    default_rules = "tcpa" if f.policy.quiet else "none"
    for key, n in f.schedule.unscheduled:
        where = f"{'+'.join(key.zones) or 'any zone'} (rules {key.rules or default_rules})"
        lines.append(
            f"  WARNING: {n:,} recipient(s) in {where} have no window under --quiet-hours "
            f"{f.policy} with a {margin}-minute margin: they will never be sent (fate "
            "no-window); send them as a new run with other --quiet-hours" if key in never
            else f"  no opening for {n:,} recipient(s) in {where} within "
            f"{f.horizon / timedelta(days=1):g} days or before --expire-at")
    if f.cap is not None:
        lines += ["", f"  the cap needs {len(f.days)} day(s):"]
        lines += [f"    {d.as_json()['day']} (Pacific)  {d.count:>12,}" for d in f.days]
    if f.not_sent:
        days = f"{f.horizon / timedelta(days=1):g} days"
        why = ("cannot be sent before --expire-at (left unsent, reported expired)"
               if f.not_sent_reason == "expire-at" else
               f"are not reached within the {days} planned (the cap's days and a week more)"
               if f.cap is not None else f"have no opening within {days}")
        lines.append(f"  {f.not_sent:,} recipient(s) {why}")
    return lines + _counts(f)


def _first_wave(f: Forecast) -> str:
    """When the first wave opens, if after the first possible send (nobody's window is
    open then)."""
    from engine.schedule.windows import stamp

    first = min((w.opening.opens for w in f.schedule.waves), default=None)
    return "" if first is None or first <= f.start else f"; first wave opens {stamp(first)}"


def _start_label(f: Forecast) -> str:
    """Where the first possible send comes from: --at, or now when --at is already past."""
    from engine.schedule.windows import stamp

    at = f.timing.at
    if at is None:
        return ""
    return " (--at)" if at >= f.now else f" (now: --at {stamp(at)} is already past)"


def _wave(number: int, wave: Wave) -> list[str]:
    from engine.schedule.windows import stamp

    local = [str(w) for w in wave.local()]
    head = (f"  {number:>4} {wave.count:>12,}   {stamp(wave.opening.opens):<20} "
            f"{stamp(wave.opening.deadline):<20} ")
    lines = [head + (local[0] if local else "any time (--quiet-hours off)")]
    lines += [" " * len(head) + w for w in local[1:]]
    if wave.later:
        lines.append(" " * len(head) + f"then {len(wave.later)} later opening(s), the next "
                     f"{stamp(wave.later[0].opens)}")
    return lines


def _counts(f: Forecast) -> list[str]:
    by_zone, by_rule = f.by_zone(), f.by_rule()
    lines = ["", "  recipients by zone:"]
    lines += [f"    {zone:<44}{n:>12,}" for zone, n in list(by_zone.items())[:SHOWN_ROWS]]
    if len(by_zone) > SHOWN_ROWS:
        lines.append(f"    and {len(by_zone) - SHOWN_ROWS} more zone(s) (--json lists all)")
    applies = "" if f.policy.uses_states else " (applied by strict and own windows)"
    lines += ["", f"  recipients by state rule{applies}:"]
    lines += [f"    {rule:<12}{n:>12,}  {RULE_NOTES.get(rule, '')}".rstrip()
              for rule, n in list(by_rule.items())[:SHOWN_ROWS]]
    if len(by_rule) > SHOWN_ROWS:
        lines.append(f"    and {len(by_rule) - SHOWN_ROWS} more rule(s) (--json lists all)")
    lines += ["", "  zones found by:"]
    lines += [f"    {source:<16}{n:>12,}  {SOURCE_NAMES[source]}"
              for source, n in f.by_source().items()]
    return lines
