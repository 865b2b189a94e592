"""Lists as people really have them (national formats, Windows-1252, semicolons, a header with
spaces) plan and send with no good recipient lost, and resume and outcomes re-read them exactly."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.reading import ReadOptions
from engine.reading.segments import is_gsm7, segment_count
from engine.simulator import SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.e2e.test_cli_outcomes import a2p

TEMPLATE = "Hi {First Name|there}, see you in {City}"
FORMATS = ("({a}) {e}-{n}", "{a}.{e}.{n}", "{a}{e}{n}", "1-{a}-{e}-{n}", "+1 {a} {e} {n}",
           "1{a}{e}{n}")
NAMES = ("José", "Zoë", "François", "", "Ann", "Øyvind")
CITIES = ("Montréal", "Köln", "São Paulo", "Boston")
BAD = ("6.50555E+09", "+44 20 7183 8750", "555-234-5678", "12345")


def write_list(path: Path, n: int) -> tuple[list[tuple[str, str]], int]:
    """A cp1252, semicolon-separated export: (number, text) of each good row, and how many bad."""
    rng = random.Random(n)
    rows, good, bad = ["Phone Number;First Name;City"], [], 0
    for i in range(n):
        name, city = NAMES[i % len(NAMES)], rng.choice(CITIES)
        if i % 23 == 7:
            rows.append(f"{BAD[bad % len(BAD)]};{name};{city}")
            bad += 1
            continue
        area, exchange, line = 650, 200 + i // 10_000, f"{i % 10_000:04d}"
        rows.append(f"{FORMATS[i % len(FORMATS)].format(a=area, e=exchange, n=line)};{name};"
                    f"{city}")
        good.append((f"+1{area}{exchange}{line}", f"Hi {name or 'there'}, see you in {city}"))
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return good, bad


def options() -> ReadOptions:
    return ReadOptions(to_column="Phone Number", template=TEMPLATE, encoding="cp1252")


@pytest.mark.slow
def test_plan_then_send_from_the_cli_loses_no_good_recipient(tmp_path: Path) -> None:
    """`a2p plan` counts every good row with its segments and cost; `a2p send` delivers each
    once with its accented text intact."""
    path = tmp_path / "export.csv"
    good, bad = write_list(path, 500)
    flags = ["--from", SENDER, "--to-column", "Phone Number", "--encoding", "cp1252",
             "--template", TEMPLATE]
    planned = subprocess.run([sys.executable, "-m", "engine.cli", "plan", str(path), *flags,
                              "--json", "--max-batch-bytes", "6000"],
                             capture_output=True, check=True, timeout=60)
    plan = orjson.loads(planned.stdout)
    assert (plan["recipients"], plan["rejectedLocal"]) == (len(good), bad)
    assert plan["segments"] == sum(segment_count(text) for _, text in good)
    assert plan["ucs2Messages"] == sum(not is_gsm7(text) for _, text in good)
    assert {c["char"] for c in plan["ucs2Because"]} == {"ë", "ç", "ã"}
    assert sum(c["segments"] for c in plan["chunks"]) == plan["segments"]
    with SimulatorThread(sim_settings(messages_per_second=1e5)) as running:
        sent = a2p(running, "send", str(path), *flags, "--report", str(tmp_path / "r.json"),
                   "--max-batch-bytes", "6000")
        assert sent.returncode == 0, sent.stderr.decode()
        ledger = sorted((entry[2], entry[3]) for entry in running.simulator.store.ledger())
    assert ledger == sorted(good)


def test_unknown_template_field_exits_2_naming_the_columns(tmp_path: Path) -> None:
    """A field the header lacks stops the plan before any record is read."""
    path = tmp_path / "export.csv"
    write_list(path, 10)
    result = subprocess.run([sys.executable, "-m", "engine.cli", "plan", str(path), "--from",
                             SENDER, "--to-column", "Phone Number", "--encoding", "cp1252",
                             "--template", "Hi {FirstName}"], capture_output=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "{FirstName} is not a column of the header (Phone Number, First Name, City)" in (
        result.stderr.decode())


async def test_resume_and_outcomes_reread_a_cp1252_file_by_byte_offset(
        start: Start, tmp_path: Path) -> None:
    """Stopped after two batches and resumed from the journal alone: each good recipient once
    (so cp1252, the delimiter and the number options were recorded); the outcomes export,
    re-reading the cp1252 file by byte offset, gives every row its fate."""
    running, settings = await start()
    path, journal = tmp_path / "export.csv", tmp_path / "run.journal"
    good, bad = write_list(path, 600)
    stop, seen = anyio.Event(), []

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            seen.append(event)
            if len(seen) >= 2:
                stop.set()

    common: dict[str, Any] = {"sender": SENDER, "config": settings, "read": options(),
                              "credentials": DEMO_CREDENTIALS, "max_batch_bytes": 3000,
                              "concurrency": 1}
    first = await engine.send(path, journal=journal, stop=stop, on_event=on_event, **common)
    assert first["interrupted"]
    assert 0 < len(ledger_numbers(running)) < len(good)
    # --resume alone: the file, sender, template and reading options come from the journal
    report = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                               concurrency=1)
    assert report["status"] == "completed"
    ledger = sorted((entry[2], entry[3]) for entry in running.simulator.store.ledger())
    assert ledger == sorted(good)
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert [row.position for row in rows] == list(range(len(good) + bad))
    sent = [(row.to, row.text) for row in rows if row.outcome != "rejected-local"]
    assert sorted(sent) == sorted(good)
    assert sum(row.outcome == "rejected-local" for row in rows) == bad


def test_send_with_an_unknown_template_field_exits_2_before_any_post(tmp_path: Path) -> None:
    """`a2p send` refuses the template at the header: exit 2, nothing sent."""
    path = tmp_path / "export.csv"
    write_list(path, 10)
    with SimulatorThread(sim_settings()) as running:
        sent = a2p(running, "send", str(path), "--from", SENDER, "--to-column", "Phone Number",
                   "--encoding", "cp1252", "--template", "Hi {Name}", "--report",
                   str(tmp_path / "r.json"))
        assert list(running.simulator.store.ledger()) == []
    assert sent.returncode == 2, sent.stderr.decode()
    assert "{Name} is not a column of the header" in sent.stderr.decode()
