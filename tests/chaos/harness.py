"""The chaos harness: ``a2p send`` in a subprocess against the simulator in another process,
faults on, killed with SIGKILL at random moments and resumed until it finishes; then the
simulator's ledger and the report are checked against what the input must give.

    python -m tests.chaos.harness [--seeds 20]      # a longer soak than the test suite's
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.simproc import DEMO_ENV, SimulatorProcess
from engine.simulator.lost_answers import OTHER_CAMPAIGN
from tests.lists import scattered

SENDER = "+16505550100"
SIM_CONFIG = """
[server]
url = "http://127.0.0.1:8080"
[retry]
backoff_initial = 0.2
backoff_max = 1.0
reconcile_window = 2.5
store_window = 10.0
chunk_deadline = 5.0
request_timeout = 4.0
[simulator]
senders = ["+16505550100"]
messages_per_second = 300.0
[simulator.light]
requests = 100000
window = 60.0
penalty = 1.0
[simulator.auth]
requests = 100000
window = 60.0
penalty = 1.0
"""
FAULTS: list[dict[str, Any]] = [
    {"error_rate": 0.1, "error_statuses": [500, 502, 503]},
    {"reset_rate": 0.08},
    {"accept_drop_rate": 0.15, "scope": "send"},
    {"burst_rate": 0.1, "burst_length": 3, "burst_retry_after": 0},
    {"latency": 0.01, "latency_jitter": 0.05},
    {"early_expiry_rate": 0.3, "early_expiry": 0.3},
    # Lost answers the way large services lose them (issue 9):
    {"late_create_rate": 0.3, "late_create_delay": 1.0, "scope": "send"},
    {"late_create_rate": 0.3, "late_create_delay": 1.0, "late_create_drop": True,
     "scope": "send"},
    {"accept_drop_rate": 0.3, "listing_lag": 1.0, "scope": "send"},
    {"accept_drop_rate": 0.3, "messages_after_start": True, "scope": "send"},
    {"accept_drop_rate": 0.3, "clock_skew": 300.0, "scope": "send"},
    {"accept_drop_rate": 0.3, "clock_skew": -300.0, "scope": "send"},
    {"accept_drop_rate": 0.3, "page_cap": 3, "other_campaigns": 2, "scope": "send"},
    {"accept_drop_rate": 0.3, "answer_piece": 64, "answer_pause": 0.0005},
    # a message store that lags Completed (issue 18): rejections only from a complete store
    {"accept_drop_rate": 0.3, "store_lag": 2.0, "scope": "send"},
    # A gateway's 5xx after the batch was created, and answers held past the timeout (18):
    {"error_after_create_rate": 0.3, "error_after_create_statuses": [500, 502, 503, 503, 504],
     "gateway_html_rate": 0.5, "gateway_retry_after": 1, "hold_answer_rate": 0.2,
     "hold_answer": 5.0, "scope": "send"},
    # An outage: every batch POST a 503 that created nothing, until the harness heals it
    # after the run ends (its chunks failed proved-absent); then one --resume sends them.
    {"outage_status": 503, "scope": "send"},
    # A gateway's own answers (adversary, i19): a Date from a clock 5 min off creationTime's,
    # an unreadable 2xx (HTML 200, 201 cut short), its 408/403/404 page, another batch's 201
    {"error_after_create_rate": 0.3, "clock_skew": -300.0, "date_skew": 300.0,
     "scope": "send"},
    {"unreadable_2xx_rate": 0.3, "scope": "send"},
    {"gateway_4xx_rate": 0.3, "gateway_4xx_statuses": [408, 403, 404], "scope": "send"},
    {"replayed_answer_rate": 0.3, "scope": "send"},
]
# What the simulator counts when it loses an answer or creates nothing (GET /_sim/stats).
LOST_ANSWERS = ("late_create", "accept_drop", "error_after_create", "held_answer", "outage",
                "unreadable_200", "truncated_201", "gateway_4xx", "replayed_answer")
# Tokens revoked every two requests with half the refreshes refused (issue 18): workers meet
# 401s in quick succession and the JWT is presented again; no chunk may fail for it.
TOKEN_MODES: list[dict[str, Any]] = [{"expire_after_requests": 2, "refresh_refused_rate": 0.5}]
# A gateway's body limit under the run's --max-batch-bytes (issue 20): the first chunks are
# answered 413 and split in two, so kills land between a split and its halves' answers.
SPLIT_MODES: list[dict[str, Any]] = [{"body_limit": 1500}]
RUN_TIMEOUT = 90.0


@dataclass
class Outcome:
    seed: int
    faults: str
    kills: int = 0
    runs: int = 0
    healed: bool = False  # the faults were turned off and the run resumed once more
    duplicates: int = 0
    losses: int = 0
    unknown: int = 0
    pending: int = 0  # recipients the report left pending (a store lagging past store_window)
    met: Counter[str] = field(default_factory=Counter)
    stages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def describe(faults: dict[str, Any]) -> str:
    """The fault mode in a few characters: what differs from plain latency."""
    shown = {k: v for k, v in faults.items() if k not in ("seed", "latency", "scope")}
    short = {"True": "on", "False": "off"}
    return " ".join(f"{k.removesuffix('_rate')}={short.get(str(v), v)}"
                    for k, v in sorted(shown.items())) or "latency"


def write_input(path: Path, n: int, rng: random.Random) -> tuple[list[str], set[int], set[int]]:
    numbers, local, server = scattered(n, rng, bad=0.02)
    path.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    return numbers, local, server


def put_faults(url: str, faults: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{url}/_sim/faults", data=orjson.dumps(faults),
                                     method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def ledger(url: str) -> list[list[Any]]:
    with urllib.request.urlopen(f"{url}/_sim/ledger", timeout=30) as response:
        entries: list[list[Any]] = orjson.loads(response.read())["entries"]
        return entries


# Where a kill lands: at a time, or once the run's event stream shows a stage.
Kill = tuple[str, float]
STAGES: list[Kill] = [("time", 0.05), ("submitted", 1), ("submitted", 3), ("completed", 1)]


def _reached(kill: Kill, events: bytes) -> bool:
    kind, n = kill
    if kind == "submitted":
        return events.count(b'"event":"chunk_submitted"') >= n
    if kind == "completed":
        return events.count(b'"event":"batch_completed"') >= n
    return False


def attempt(sim: SimulatorProcess, work: Path, kill: Kill | None,
            timeout: float = RUN_TIMEOUT) -> int | None:
    """One run (fresh, or resuming when a usable journal exists); None when it was killed."""
    journal, report = work / "run.journal", work / "report.json"
    args = [sys.executable, "-m", "engine.cli", "send", "--report", str(report),
            "--concurrency", "3", "--profile", str(work / "sim.toml")]
    if journal.exists() and journal.stat().st_size:
        args += ["--resume", str(journal)]  # alone: the journal holds the rest
    else:
        journal.unlink(missing_ok=True)
        args += [str(work / "list.csv"), "--from", SENDER, "--text", "Chaos",
                 "--max-batch-bytes", "2500", "--any-country", "--journal", str(journal)]
    env = {**os.environ, **DEMO_ENV, "RC_SERVER_URL": sim.url}
    events = work / "stdout.jsonl"
    seen = events.stat().st_size if events.exists() else 0
    with open(events, "ab") as out, open(work / "stderr.log", "ab") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + (kill[1] if kill and kill[0] == "time" else timeout)
        while process.poll() is None:
            stage = kill is not None and _reached(kill, events.read_bytes()[seen:])
            if stage or time.monotonic() > deadline:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                if kill is None:
                    raise AssertionError("a run did not finish in time")
                return None
            time.sleep(0.005)
    return process.returncode


LOST_ANSWER_MODES = FAULTS[6:]


def scenario(seed: int, work: Path, recipients: int = 1500, max_kills: int = 3,
             mode: dict[str, Any] | None = None) -> Outcome:
    rng = random.Random(seed)
    # A little latency everywhere, so a run lasts long enough for kills to land in every
    # stage: reading, submitting, waiting for answers, tracking.
    faults = {"latency": 0.02, **(mode or rng.choice(FAULTS + TOKEN_MODES)), "seed": seed}
    if mode is None and rng.random() < 0.5:
        faults |= rng.choice(FAULTS + TOKEN_MODES)
    outcome = Outcome(seed, describe(faults))
    numbers, local, server = write_input(work / "list.csv", recipients, rng)
    sim = SimulatorProcess(_config(work))
    try:
        put_faults(sim.url, faults)
        plan: list[Kill] = [rng.choice([*STAGES, ("time", rng.uniform(0.2, 1.5))])
                             for _ in range(rng.randint(1, max_kills))]
        status = None
        while status is None:
            kill = plan[outcome.runs] if outcome.runs < len(plan) else None
            outcome.runs += 1
            status = attempt(sim, work, kill)
            if status is None:
                outcome.kills += 1
                outcome.stages.append(kill[0] if kill else "")
            elif status not in (0, 1):
                outcome.problems.append(f"run ended with exit {status}")
        if _failed(work):  # chunks proved absent and left for --resume: heal, resume once
            put_faults(sim.url, {"seed": seed})
            outcome.healed, outcome.runs = True, outcome.runs + 1
            status = attempt(sim, work, None)
            if status != 0:
                outcome.problems.append(f"the resume after healing ended with exit {status}")
        entries = ledger(sim.url)
        stats = sim.stats()
    finally:
        sim.stop()
    responses = stats["responses"]
    assert isinstance(responses, dict)
    outcome.met.update({k: int(v) for k, v in responses.items() if k not in ("200", "201")})
    _judge(outcome, orjson.loads((work / "report.json").read_bytes()), entries, numbers,
           local, server)
    if outcome.healed and _failed(work):
        outcome.problems.append(f"{_failed(work)} chunks still failed after the fault healed "
                                "and one --resume")
    _search_secrets(outcome, work)
    if (work / "run.journal.bodies").exists():  # spooled request bodies: gone once it ended
        outcome.problems.append("the last run left its body folder run.journal.bodies")
    return outcome


def _failed(work: Path) -> int:
    """Chunks the run's report leaves failed."""
    path = work / "report.json"
    if not path.exists():
        return 0
    return sum(b["status"] == "failed" for b in orjson.loads(path.read_bytes())["batches"])


def _search_secrets(outcome: Outcome, work: Path) -> None:
    """No output of any run (events, diagnostics, report, journal) holds a credential."""
    secrets = [DEMO_ENV["RC_APP_CLIENT_SECRET"], DEMO_ENV["RC_USER_JWT"]]
    for name in ("stdout.jsonl", "stderr.log", "report.json", "run.journal"):
        data = (work / name).read_text(errors="replace")
        outcome.problems += [f"{name} contains a secret" for s in secrets if s in data]


def _config(work: Path, text: str = SIM_CONFIG) -> Path:
    path = work / "sim.toml"
    path.write_text(text)
    return path


# Batch states a report may hold once the faults healed and the run was resumed.
SETTLED = {"completed", "split"}


def _judge(outcome: Outcome, report: dict[str, Any], entries: list[list[Any]],
           numbers: list[str], local: set[int], server: set[int], healed: bool = False
           ) -> int:
    """Every valid recipient accepted exactly once, or inside a range reported unknown.

    ``healed``: the faults are off and the run was resumed since, so nothing may be left
    undecided: every server rejection reported, every batch settled, ``totals.sent`` equal
    to the ledger. Returns how many valid recipients the ledger lacks (unknown ranges too)."""
    accepted = Counter(entry[2] for entry in entries if entry[3] != OTHER_CAMPAIGN)
    outcome.duplicates = sum(n - 1 for n in accepted.values() if n > 1)
    undecided: set[int] = set()
    adopted: set[int] = set()  # adopted and not completed: its rejections are not known yet
    for batch in report["batches"]:
        span = set(range(batch["firstIndex"], batch["lastIndex"] + 1))
        if batch["status"] in ("unknown", "failed"):
            undecided |= span
        if batch["adopted"] and (batch["status"] != "completed" or batch["pending"]):
            adopted |= span
    outcome.unknown = sum(b["status"] == "unknown" for b in report["batches"])
    valid = [i for i in range(len(numbers)) if i not in local | server]
    outcome.losses = sum(1 for i in valid if numbers[i] not in accepted and i not in undecided)
    unsent = sum(1 for i in valid if numbers[i] not in accepted)
    if healed:  # the server's history decides every chunk now: nothing is excused
        undecided, adopted = set(), set()
        if any(b["status"] not in SETTLED for b in report["batches"]):
            outcome.problems.append("batches not settled after the heal: " + str(
                Counter(b["status"] for b in report["batches"])))
        if report["totals"]["sent"] != sum(accepted.values()):
            outcome.problems.append(f"totals.sent {report['totals']['sent']} but the ledger "
                                    f"holds {sum(accepted.values())} messages")
    if len(report["rejected"]) != len({(r["index"], r["source"]) for r in report["rejected"]}):
        outcome.problems.append("a rejection is reported twice")
    reported_local = {r["index"] for r in report["rejected"] if r["source"] == "local"}
    reported_server = {r["index"] for r in report["rejected"] if r["source"] == "server"}
    if reported_local != local:
        outcome.problems.append(f"local rejections differ: {sorted(reported_local ^ local)[:5]}")
    if reported_server != server - adopted - undecided:
        outcome.problems.append("server rejections differ: "
                                f"{sorted(reported_server ^ (server - adopted - undecided))[:5]}")
    totals = report["totals"]
    outcome.pending = totals["pending"]
    held = sum(b["messages"] for b in report["batches"]
               if b["status"] in ("unknown", "failed"))
    if totals["records"] != len(numbers) or totals["sent"] + totals["rejectedLocal"] + \
            totals["rejectedServer"] + totals["pending"] + held != len(numbers):
        outcome.problems.append(f"totals do not add up: {totals}")
    if not undecided and not outcome.pending and not outcome.duplicates and \
            totals["sent"] != sum(accepted.values()):
        outcome.problems.append(f"sent {totals['sent']} is not the ledger's "
                                f"{sum(accepted.values())}")
    return unsent


def table(outcomes: list[Outcome]) -> str:
    rows = [f"{'seed':>5} {'faults':<52} {'runs':>4} {'kills':>5} {'dup':>4} {'lost':>4} "
            f"{'unknown':>7}  {'killed at':<26} faults met"]
    for o in outcomes:
        met = ", ".join(f"{k}:{v}" for k, v in sorted(o.met.items()))
        stages = ",".join(o.stages + (["healed"] if o.healed else []))
        rows.append(f"{o.seed:>5} {o.faults[:52]:<52} {o.runs:>4} {o.kills:>5} "
                    f"{o.duplicates:>4} {o.losses:>4} {o.unknown:>7}  {stages[:26]:<26} {met}")
    by_stage = Counter(stage for o in outcomes for stage in o.stages)
    rows.append(f"kills by stage: {dict(sorted(by_stage.items()))}")
    rows.append(f"scenarios {len(outcomes)}, kills survived {sum(o.kills for o in outcomes)}, "
                f"duplicates {sum(o.duplicates for o in outcomes)}, losses "
                f"{sum(o.losses for o in outcomes)}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=3000)
    args = parser.parse_args()
    import tempfile

    outcomes = []
    started = time.perf_counter()
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            outcomes.append(scenario(seed, Path(tmp), args.recipients))
            print(table(outcomes[-1:]).splitlines()[1], flush=True)
    print(table(outcomes))
    modes = []
    for k, mode in enumerate(LOST_ANSWER_MODES):  # and each lost-answer mode on its own
        with tempfile.TemporaryDirectory() as tmp:
            modes.append(scenario(100 + k, Path(tmp), args.recipients, max_kills=1, mode=mode))
            print(table(modes[-1:]).splitlines()[1], flush=True)
    print(table(modes))
    outcomes += modes
    print(f"{time.perf_counter() - started:.0f} s")
    problems = [p for o in outcomes for p in o.problems]
    if problems or any(o.duplicates or o.losses for o in outcomes):
        sys.exit(f"chaos: problems: {problems}")


if __name__ == "__main__":
    main()
