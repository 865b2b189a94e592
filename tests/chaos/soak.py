"""The seeded soak: per seed, a random combination of fault modes at random strengths, a random
list, random SIGKILLs and resumes until the run ends; then the faults heal, one last
``a2p send --resume`` runs, and the simulator's ledger, the report and ``a2p outcomes`` judge.

    python -m benchmarks soak --seeds 200 [--start N] [--jobs 2]     # hundreds, with figures
    pytest tests/chaos/test_soak.py           # in CI: the few seeds that meet every mode

A seed replays exactly the same draw (modes, strengths, list, kill plan, the simulator's fault
rng); only the moments a time-based kill lands depend on the machine.

Adding a fault mode to the soak is one line in ``SOAK_MODES``: its name and a function drawing
its ``FaultSettings`` fields (strength included) from the seed's rng.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.simproc import DEMO_ENV, SimulatorProcess
from tests.chaos.harness import (
    SIM_CONFIG,
    STAGES,
    Kill,
    Outcome,
    _config,
    _judge,
    _search_secrets,
    attempt,
    describe,
    ledger,
    put_faults,
    write_input,
)

Draw = Callable[[random.Random], dict[str, Any]]


@dataclass(frozen=True)
class Mode:
    """A fault mode the soak can draw: its ``FaultSettings`` fields, strength drawn per seed.
    ``send_only``: the mode is meant for batch POSTs only (scope ``send``); any such mode in a
    seed's combination narrows every fault of that seed to batch POSTs. ``met``: the
    simulator's stats counters that show the mode really fired (none: it shows only through
    the others, as a listing lag does). ``heals``: off, the mode stays on through the heal (a
    server's clock does not jump back four minutes when its gateway recovers)."""

    name: str
    draw: Draw
    send_only: bool = False
    met: tuple[str, ...] = ()
    heals: bool = True


# Bounds keep each mode inside what a correct engine can survive with the soak profile's
# reconcile_window of 2.5 s: a batch created late (<= 1 s) and listed late (<= 1 s) is still
# seen by a look that begins after the window.
SOAK_MODES: list[Mode] = [
    # ("500" also counts the connections the simulator dropped: it never reached anyone.)
    Mode("5xx", lambda r: {"error_rate": r.uniform(0.02, 0.15),
                           "error_statuses": r.choice([[500], [502, 503], [500, 502, 503]])},
         met=("500", "502", "503")),
    Mode("reset", lambda r: {"reset_rate": r.uniform(0.02, 0.1)}, met=("reset",)),
    Mode("accept-drop", lambda r: {"accept_drop_rate": r.uniform(0.05, 0.3)}, send_only=True,
         met=("accept_drop",)),
    Mode("429-burst", lambda r: {"burst_rate": r.uniform(0.02, 0.1),
                                 "burst_length": r.randint(1, 4), "burst_retry_after": 0},
         met=("429",)),
    Mode("latency", lambda r: {"latency": r.uniform(0.0, 0.03),
                               "latency_jitter": r.uniform(0.0, 0.05)}),
    Mode("early-expiry", lambda r: {"early_expiry_rate": r.uniform(0.1, 0.4),
                                    "early_expiry": r.uniform(0.2, 1.0)}, met=("401",)),
    Mode("late-create", lambda r: {"late_create_rate": r.uniform(0.1, 0.3),
                                   "late_create_delay": r.uniform(0.2, 1.0),
                                   "late_create_drop": r.random() < 0.5}, send_only=True,
         met=("late_create",)),
    Mode("listing-lag", lambda r: {"listing_lag": r.uniform(0.2, 1.0)}),
    Mode("messages-after-start", lambda r: {"messages_after_start": True}),
    Mode("clock-skew", lambda r: {"clock_skew": r.choice([-1.0, 1.0]) * r.uniform(30, 300)},
         heals=False),
    Mode("small-pages", lambda r: {"page_cap": r.randint(2, 10),
                                   "other_campaigns": r.randint(1, 3)}),
    Mode("answer-pieces", lambda r: {"answer_piece": r.choice([64, 256]),
                                     "answer_pause": 0.0005}),
    Mode("token-expiry", lambda r: {"expire_after_requests": r.randint(2, 6),
                                    "refresh_refused_rate": r.uniform(0.0, 0.5)},
         met=("token_expired",)),
    Mode("token-endpoint-5xx", lambda r: {"token_error_rate": r.uniform(0.05, 0.3),
                                          "token_error_statuses": r.choice(
                                              [[502], [503], [502, 503, 0]]),
                                          "token_error_html": r.random() < 0.5},
         met=("token_error",)),
    # a message store that lags Completed (within the profile's store_window of 10 s)
    Mode("store-lag", lambda r: {"store_lag": r.uniform(0.5, 2.5)}),
    # A gateway's 5xx after the batch was created, JSON or HTML, maybe with Retry-After:
    Mode("5xx-after-create", lambda r: {
        "error_after_create_rate": r.uniform(0.05, 0.3),
        "error_after_create_statuses": r.choice([[503], [500, 502, 503, 504]]),
        "gateway_html_rate": r.choice([0.0, 0.5, 1.0]), "gateway_retry_after": r.choice([0, 1])},
         send_only=True, met=("error_after_create",)),
    # The 201 held past the client's timeout (the soak profile's request_timeout is 4 s):
    Mode("held-answer", lambda r: {"hold_answer_rate": r.uniform(0.05, 0.2),
                                   "hold_answer": 5.0}, send_only=True, met=("held_answer",)),
    # Every batch POST a 5xx that created nothing until the heal: chunks fail proved-absent
    # and the final --resume sends them.
    Mode("outage", lambda r: {"outage_status": r.choice([500, 502, 503, 504]),
                              "gateway_html_rate": r.choice([0.0, 1.0])}, send_only=True,
         met=("outage",)),
    # A gateway's own answers: a Date from another clock than creationTime's, an unreadable
    # 2xx (HTML 200 / 201 cut short), its 408/403/404 page, a 201 with another batch's body
    Mode("date-skew", lambda r: {"date_skew": r.choice([-1.0, 1.0]) * r.uniform(30, 300)}),
    Mode("unreadable-2xx", lambda r: {"unreadable_2xx_rate": r.uniform(0.05, 0.3)},
         send_only=True, met=("unreadable_200", "truncated_201")),
    Mode("gateway-4xx", lambda r: {"gateway_4xx_rate": r.uniform(0.05, 0.3)}, send_only=True,
         met=("gateway_4xx",)),
    Mode("replayed-answer", lambda r: {"replayed_answer_rate": r.uniform(0.05, 0.3)},
         send_only=True, met=("replayed_answer",)),
]
# Modes that lose answers: the listing modes only matter beside one of these.
LOSING = ("5xx", "reset", "accept-drop", "late-create", "5xx-after-create", "held-answer",
          "unreadable-2xx", "gateway-4xx", "replayed-answer")
FINAL_TIMEOUT = 120.0
# The chaos profile, processing ten times faster and polled often: a seed's time goes to
# faults, kills and settle windows, not to waiting for the simulator to work through a list.
SOAK_CONFIG = SIM_CONFIG.replace("messages_per_second = 300.0", "messages_per_second = 3000.0"
                                 ) + "[polling]\ninterval = 0.2\nmax_interval = 1.0\n"
assert "3000.0" in SOAK_CONFIG


@dataclass(frozen=True)
class Draws:
    """Everything a seed decides before anything runs."""

    modes: tuple[str, ...]
    faults: dict[str, Any]
    recipients: int
    kills: tuple[Kill, ...]
    healed: dict[str, Any]  # the faults after the heal: the modes that do not heal, only


def draw(seed: int, min_recipients: int = 500, max_recipients: int = 3000,
         max_kills: int = 3, modes: list[Mode] | None = None) -> Draws:
    """The seed's combination: 1-3 modes (at least one that loses answers when any listing
    mode is drawn), their strengths, the list size and the kill plan."""
    rng = random.Random(seed)
    registry = modes if modes is not None else SOAK_MODES
    chosen = rng.sample(registry, rng.randint(1, min(3, len(registry))))
    losing = [m for m in registry if m.name in LOSING]
    if losing and not any(m.name in LOSING for m in chosen):
        chosen.append(rng.choice(losing))
    # A little latency everywhere, so the kills land in every stage of a run.
    faults: dict[str, Any] = {"latency": 0.02}
    healed: dict[str, Any] = {"seed": seed}
    for mode in chosen:
        fields = mode.draw(rng)
        faults |= fields
        if not mode.heals:
            healed |= fields
    faults |= {"seed": seed, "scope": "send" if any(m.send_only for m in chosen) else "a2p"}
    plan = tuple(rng.choice([*STAGES, ("time", rng.uniform(0.2, 1.5))])
                 for _ in range(rng.randint(0, max_kills)))
    return Draws(tuple(m.name for m in chosen), faults,
                 rng.randint(min_recipients, max_recipients), plan, healed)


def covering_seeds(count: int, candidates: range = range(500)) -> list[int]:
    """At most ``count`` seeds whose draws together cover as many modes of the registry as
    they can (greedy: each next seed adds the most modes not yet drawn; the lowest on a tie),
    so a few seeds in CI meet every mode, and a mode appended to the registry joins them."""
    drawn = {seed: set(draw(seed).modes) for seed in candidates}
    chosen: list[int] = []
    covered: set[str] = set()
    while len(chosen) < count:
        seed = max(drawn, key=lambda s: (len(drawn[s] - covered), -s))
        if not drawn[seed] - covered:
            break
        chosen.append(seed)
        covered |= drawn.pop(seed)
    return sorted(chosen)


@dataclass
class SoakOutcome:
    """One seed's result: the chaos harness's Outcome plus what only the soak checks."""

    outcome: Outcome
    modes: tuple[str, ...]
    recipients: int
    resumes: int = 0           # runs after the first, the final one after the heal included
    unsent: int = 0            # valid recipients with no accepted message after the heal
    final_exit: int | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        o = self.outcome
        return bool(o.problems or o.duplicates or o.losses or o.unknown or self.unsent)

    def replay(self) -> str:
        return (f"python -m benchmarks soak --start {self.outcome.seed} --seeds 1 "
                f"  # or: A2P_SOAK_START={self.outcome.seed} A2P_SOAK_SEEDS=1 "
                "pytest tests/chaos/test_soak.py -k heal")

    def record(self) -> dict[str, Any]:
        o = self.outcome
        return {"seed": o.seed, "modes": list(self.modes), "faults": o.faults,
                "recipients": self.recipients, "runs": o.runs, "kills": o.kills,
                "resumes": self.resumes, "killedAt": o.stages, "faultsMet": dict(o.met),
                "duplicates": o.duplicates, "losses": o.losses, "unknown": o.unknown,
                "unsentAfterHeal": self.unsent, "finalExit": self.final_exit,
                "problems": o.problems, "seconds": round(self.seconds, 2),
                "replay": self.replay()}


def soak_scenario(seed: int, work: Path, min_recipients: int = 500,
                  max_recipients: int = 3000, max_kills: int = 3) -> SoakOutcome:
    """Run one seed in ``work`` (an empty directory) and judge it; never raises for a
    failure of the engine: every failure is a problem in the outcome."""
    started = time.perf_counter()
    d = draw(seed, min_recipients, max_recipients, max_kills)
    rng = random.Random(f"list-{seed}")
    result = SoakOutcome(Outcome(seed, describe(d.faults)), d.modes, d.recipients)
    outcome = result.outcome
    numbers, local, server = write_input(work / "list.csv", d.recipients, rng)
    sim = SimulatorProcess(_config(work, SOAK_CONFIG))
    try:
        put_faults(sim.url, d.faults)
        _run_until_it_ends(sim, work, d.kills, outcome)
        stats = sim.stats()
        put_faults(sim.url, d.healed)  # the fault heals: every mode off but a clock's skew
        result.final_exit = _final_resume(sim, work, outcome)
        entries = ledger(sim.url)
        if result.final_exit is not None:
            _judge_outcomes(outcome, work, sim, entries, numbers, local, server)
    finally:
        sim.stop()
    result.resumes = outcome.runs - 1
    responses = stats["responses"]
    assert isinstance(responses, dict)
    outcome.met.update({k: int(v) for k, v in responses.items() if k not in ("200", "201")})
    report = work / "report.json"
    if report.exists():
        result.unsent = _judge(outcome, orjson.loads(report.read_bytes()), entries, numbers,
                               local, server, healed=True)
    else:
        outcome.problems.append("no report after the final resume")
    _search_secrets(outcome, work)
    result.seconds = time.perf_counter() - started
    return result


def _run_until_it_ends(sim: SimulatorProcess, work: Path, plan: tuple[Kill, ...],
                       outcome: Outcome) -> None:
    """Kill as planned, then resume until a run ends by itself (bounded: one run per kill,
    and the one that ends)."""
    for _ in range(len(plan) + 1):
        kill = plan[outcome.runs] if outcome.runs < len(plan) else None
        outcome.runs += 1
        try:
            status = attempt(sim, work, kill)
        except AssertionError as exc:
            outcome.problems.append(f"run {outcome.runs}: {exc}")
            return
        if status is None:
            outcome.kills += 1
            outcome.stages.append(kill[0] if kill else "")
            continue
        if status not in (0, 1):
            outcome.problems.append(f"run {outcome.runs} ended with exit {status}")
        return


def _final_resume(sim: SimulatorProcess, work: Path, outcome: Outcome) -> int | None:
    """The one ``--resume`` after the heal; it must end with exit 0."""
    if not (work / "run.journal").exists():
        outcome.problems.append("no journal to resume after the heal")
        return None
    outcome.runs += 1
    try:
        status = attempt(sim, work, None, timeout=FINAL_TIMEOUT)
    except AssertionError as exc:
        outcome.problems.append(f"final resume: {exc}")
        return None
    if status != 0:
        outcome.problems.append(f"final resume after the heal ended with exit {status}")
    return status


# Outcomes that mean "the server accepted this recipient's message".
ACCEPTED = {"delivered", "delivery-failed", "sending-failed", "sent-no-receipt", "queued",
            "opted-out"}


def _judge_outcomes(outcome: Outcome, work: Path, sim: SimulatorProcess,
                    entries: list[list[Any]], numbers: list[str], local: set[int],
                    server: set[int]) -> None:
    """``a2p outcomes`` agrees with the ledger and the report: one row per record, each
    rejection where the input puts it, every accepted row matching a ledger message, nothing
    ``not-sent`` or ``unknown``, and its totals equal the report's."""
    out = work / "outcomes.csv"
    env = {**os.environ, **DEMO_ENV, "RC_SERVER_URL": sim.url}
    try:
        done = subprocess.run([sys.executable, "-m", "engine.cli", "outcomes",
                               str(work / "run.journal"), "--out", str(out)],
                              capture_output=True, text=True, env=env, timeout=FINAL_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        outcome.problems.append("a2p outcomes did not finish in time")
        return
    if done.returncode != 0:
        outcome.problems.append(f"a2p outcomes exit {done.returncode}: {done.stderr[-300:]}")
        return
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    kinds = Counter(row["outcome"] for row in rows)
    if [int(row["index"]) for row in rows] != list(range(len(numbers))):
        outcome.problems.append(f"outcomes: {len(rows)} rows, not one per record in order")
        return
    by_kind: dict[str, set[int]] = {}
    for row in rows:
        by_kind.setdefault(row["outcome"], set()).add(int(row["index"]))
    if by_kind.get("rejected-local", set()) != local:
        outcome.problems.append("outcomes: rejected-local rows differ from the input's")
    if by_kind.get("rejected-server", set()) != server:
        outcome.problems.append("outcomes: rejected-server rows differ from the input's")
    messages = {(e[0], e[2]) for e in entries}
    strays = [r["index"] for r in rows if r["outcome"] in ACCEPTED
              and (r["batchId"], numbers[int(r["index"])]) not in messages]
    if strays:
        outcome.problems.append(f"outcomes: rows sent in no ledger batch: {strays[:5]}")
    left = {k: n for k, n in kinds.items() if k not in ACCEPTED
            and k not in ("rejected-local", "rejected-server")}
    if left:
        outcome.problems.append(f"outcomes after the heal: {left}")
    report = orjson.loads((work / "report.json").read_bytes())
    totals = report["totals"]
    sent = sum(kinds[k] for k in ACCEPTED)
    if (sent, kinds["rejected-local"], kinds["rejected-server"]) != \
            (totals["sent"], totals["rejectedLocal"], totals["rejectedServer"]):
        outcome.problems.append(f"outcomes totals {dict(kinds)} differ from the report's "
                                f"{totals}")


def soak_table(results: list[SoakOutcome]) -> str:
    rows = [f"{'seed':>5} {'modes':<40} {'recip':>5} {'runs':>4} {'kills':>5} {'dup':>4} "
            f"{'lost':>4} {'unk':>4} {'unsent':>6} {'s':>5}  faults met"]
    for r in results:
        o = r.outcome
        met = ", ".join(f"{k}:{v}" for k, v in sorted(o.met.items()))
        flag = "  FAILED" if r.failed else ""
        rows.append(f"{o.seed:>5} {','.join(r.modes)[:40]:<40} {r.recipients:>5} {o.runs:>4} "
                    f"{o.kills:>5} {o.duplicates:>4} {o.losses:>4} {o.unknown:>4} "
                    f"{r.unsent:>6} {r.seconds:>5.0f}  {met}{flag}")
    return "\n".join(rows)


def summary(results: list[SoakOutcome], seconds: float) -> dict[str, Any]:
    """The figures over all seeds."""
    met: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    counters = {m.name: m.met for m in SOAK_MODES}
    for r in results:
        met.update(r.outcome.met)
        modes.update(r.modes)
        fired.update(m for m in r.modes if any(r.outcome.met[c] for c in counters.get(m, ())))
        stages.update(r.outcome.stages)
    return {
        "seeds": len(results),
        "seedRange": [min((r.outcome.seed for r in results), default=0),
                      max((r.outcome.seed for r in results), default=0)],
        "recipients": sum(r.recipients for r in results),
        "kills": sum(r.outcome.kills for r in results),
        "killsByStage": dict(sorted(stages.items())),
        "resumes": sum(r.resumes for r in results),
        "seedsPerMode": dict(sorted(modes.items())),
        # seeds where a mode with counters of its own was drawn and those counters moved
        "seedsWhereModeFired": {m: fired[m] for m in sorted(modes) if counters.get(m)},
        "faultsMet": dict(sorted(met.items())),
        "duplicates": sum(r.outcome.duplicates for r in results),
        "losses": sum(r.outcome.losses for r in results),
        "unknown": sum(r.outcome.unknown for r in results),
        "unsentAfterHeal": sum(r.unsent for r in results),
        "failedSeeds": [r.outcome.seed for r in results if r.failed],
        # each problem's kind (its words before the first colon): seeds that show it
        "problemKinds": dict(Counter(kind for r in results for kind in
                                     {p.split(":")[0] for p in r.outcome.problems})),
        "wallSeconds": round(seconds, 1),
    }


def describe_summary(s: dict[str, Any]) -> str:
    return "\n".join([
        f"seeds {s['seeds']} ({s['seedRange'][0]}-{s['seedRange'][1]}), recipients "
        f"{s['recipients']:,}, kills {s['kills']} {s['killsByStage']}, resumes {s['resumes']}",
        f"seeds per mode: {s['seedsPerMode']}",
        f"seeds where the mode fired: {s['seedsWhereModeFired']}",
        f"faults met: {s['faultsMet']}",
        f"duplicates {s['duplicates']}, losses {s['losses']}, unknown {s['unknown']}, "
        f"unsent after heal {s['unsentAfterHeal']}, failed seeds {s['failedSeeds']}, "
        f"wall {s['wallSeconds']:.0f} s",
        *([f"problems (seeds): {s['problemKinds']}"] if s["problemKinds"] else []),
    ])
