"""Opt-outs against the simulator: ``a2p outcomes`` tells an opted-out pair's SMS-RC-413 as
``opted-out`` (never retryable); ``a2p optouts pull`` writes a file that ``--suppress`` reads,
so a send POSTs none of its numbers; ``a2p optouts push`` opts a file's numbers out in
PATCHes of at most 1,000 records, reports each refused record with its line, and is safe to
run twice."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.optouts import Failure
from engine.reading import ReadOptions
from engine.results.export import Export
from engine.run.optouts import pull, push
from engine.run.suppress import load
from engine.simulator import RunningSimulator, SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, Start, ledger_numbers

OTHER = "+16505550101"  # the account's second number (tests/conftest.py sim_settings)


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+1415{3_000_000 + start + i:07d}" for i in range(n)]


def opt_out(running: RunningSimulator, sender: str, to: str) -> None:
    """``to`` replies STOP to ``sender`` now (as /_sim/inbound does)."""
    sim = running.simulator
    assert sim.store.consents.inbound(sender, to, "STOP", sim.now()) is not None


def write_list(path: Path, listed: list[str]) -> Path:
    path.write_text("to\n" + "".join(f"{n}\n" for n in listed))
    return path


async def test_outcomes_tells_an_opted_out_pair_and_never_retries_it(
        start: Start, tmp_path: Path) -> None:
    """A recipient opted out of the sender is accepted in the 201 and failed SMS-RC-413; its
    outcomes row is opted-out, not retryable, kept by --only opted-out (which reads only the
    batches whose counts show an opt-out) and counted in the totals."""
    running, settings = await start(failure_rate=0.0)
    listed = numbers(30)
    stopped = {listed[3], listed[17]}
    for number in stopped:
        opt_out(running, SENDER, number)
    opt_out(running, OTHER, listed[5])  # another sender's: RingCentral's rule is per pair
    journal = tmp_path / "run.journal"
    report = await engine.send(write_list(tmp_path / "list.csv", listed), sender=SENDER,
                               text="Sale today", config=settings,
                               credentials=DEMO_CREDENTIALS, journal=journal,
                               consent=False)  # as a STOP after the read: sent, then failed
    assert report["totals"]["sent"] == 30  # nothing in the 201 warned of them
    async with Export(journal, config=settings, credentials=DEMO_CREDENTIALS) as export:
        rows = [row async for row in export.rows()]
    fates = {row.to: (row.outcome, row.errorCode, row.retryable) for row in rows}
    assert {to for to, fate in fates.items() if fate[0] == "opted-out"} == stopped
    assert {fates[to] for to in stopped} == {("opted-out", "SMS-RC-413", False)}
    assert fates[listed[5]][0] == "delivered"
    assert export.totals.as_json()["opted-out"] == 2
    only = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 only=("opted-out",))]
    assert {row.to for row in only} == stopped
    retry = [row async for row in engine.outcomes(journal, config=settings,
                                                  credentials=DEMO_CREDENTIALS,
                                                  only=("retryable",))]
    assert not {row.to for row in retry} & stopped


async def test_outcomes_only_suppressed_keeps_the_opted_out_recipients_never_sent(
        start: Start, tmp_path: Path) -> None:
    """``--only suppressed``: the LCL-OPTED-OUT rows (a consent record's and a suppression
    file's), not the list's other local rejections, nor an SMS-RC-413 failure."""
    running, settings = await start(failure_rate=0.0)
    listed = numbers(20)
    opt_out(running, OTHER, listed[2])  # read before the first POST: suppressed
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{listed[7]}\n")
    path = write_list(tmp_path / "list.csv", [*listed, "+1415"])  # one invalid number
    journal = tmp_path / "run.journal"
    report = await engine.send(path, sender=SENDER, text="Hi", config=settings,
                               credentials=DEMO_CREDENTIALS, journal=journal,
                               suppress=[dnc])
    assert report["totals"]["suppressed"] == {"consent": 1, "file": 1}
    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS,
                                                 only=("suppressed",))]
    assert [(row.to, row.outcome, row.errorCode) for row in rows] == [
        (listed[2], "rejected-local", "LCL-OPTED-OUT"),
        (listed[7], "rejected-local", "LCL-OPTED-OUT")]
    assert listed[2] not in ledger_numbers(running)


async def test_a_pulled_file_suppresses_every_opt_out_of_the_account(
        start: Start, tmp_path: Path) -> None:
    """pull --scope account writes every sender's opt-outs (pair: only --from's) as a CSV
    that --suppress reads; a send with it POSTs none of them and texts everyone else."""
    running, settings = await start(failure_rate=0.0)
    listed = numbers(2_500)
    mine, elsewhere = listed[:1_200:2], listed[1:1_200:4]  # 600 to SENDER, 300 to OTHER
    for number in mine:
        opt_out(running, SENDER, number)
    for number in elsewhere:
        opt_out(running, OTHER, number)
    opt_out(running, SENDER, listed[-1])
    running.simulator.store.consents.inbound(SENDER, listed[-1], "START",
                                             running.simulator.now())  # back in: not pulled
    account = tmp_path / "opt-outs.csv"
    pulled = await pull(account, scope="account", config=settings,
                        credentials=DEMO_CREDENTIALS)
    assert (pulled.records, pulled.pages) == (900, 1)
    with account.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {r["to"] for r in rows} == {*mine, *elsewhere}
    assert {(r["from"], r["optStatus"]) for r in rows} == {(SENDER, "OptOut"), (OTHER, "OptOut")}
    assert all(r["lastModifiedTime"] and r["source"] == "Recipient" for r in rows)
    assert not account.with_name("opt-outs.csv.part").exists()

    searched = tmp_path / "searched.csv"  # page by page: the same rows
    assert (await pull(searched, scope="account", via="search", config=settings,
                       credentials=DEMO_CREDENTIALS)).via == "search"
    with searched.open(newline="") as stream, account.open(newline="") as exported:
        assert sorted(map(tuple, csv.reader(stream))) == sorted(
            map(tuple, csv.reader(exported)))

    pair = tmp_path / "mine.csv"
    pulled_pair = await pull(pair, scope="pair", sender=SENDER, config=settings,
                             credentials=DEMO_CREDENTIALS)
    assert (pulled_pair.records, pulled_pair.skipped, pulled_pair.pages) == (600, 300, 1)
    assert pulled_pair.requests == pulled.requests  # the one export, and the login
    with pair.open(newline="") as stream:
        assert {r["to"] for r in csv.DictReader(stream)} == set(mine)

    nobody = tmp_path / "nobody.csv"  # a sender nobody opted out of: a header alone
    assert (await pull(nobody, scope="pair", sender="+16505550199", config=settings,
                       credentials=DEMO_CREDENTIALS)).records == 0
    empty = load([nobody], ReadOptions())
    assert empty is not None
    assert len(empty) == 0

    report = await engine.send(write_list(tmp_path / "list.csv", listed), sender=SENDER,
                               text="Hi", config=settings, credentials=DEMO_CREDENTIALS,
                               suppress=[account], wait="accepted")
    posted = ledger_numbers(running)
    assert not set(posted) & {*mine, *elsewhere}
    assert sorted(posted) == sorted(set(listed) - {*mine, *elsewhere})
    assert report["totals"]["suppressed"] == {"file": 900}


async def test_push_patches_at_most_1000_records_a_request_and_is_safe_twice(
        start: Start, tmp_path: Path) -> None:
    """2,500 numbers (one repeated, sent once) go out in 3 PATCHes of at most 1,000 records,
    each opted out of every number of the account; pushing the same file again changes
    nothing."""
    running, settings = await start()
    listed = numbers(2_500)
    source = tmp_path / "do-not-contact.txt"
    with_repeat = [*listed[:8], listed[7], *listed[8:]]
    source.write_text("".join(f"({n[2:5]}) {n[5:8]}-{n[8:]}\n" for n in with_repeat))
    store, stats = running.simulator.store.consents, running.simulator.stats
    own = store.numbers
    failures: list[Failure] = []
    for _ in range(2):
        done = await push(source, config=settings, credentials=DEMO_CREDENTIALS,
                          on_failure=failures.append)
        assert (done.numbers, done.requests, done.failed) == (2_500, 3, 0)
        assert {(r.sender, r.to, r.status) for r in store.records()} == \
            {(sender, to, "OptOut") for sender in own for to in listed}
    assert failures == []
    assert (stats["consents_patch"], stats["consents_patch_records"],
            stats["consents_patch_largest"]) == (6, 5_000, 1_000)


def test_cli_push_reports_each_refused_record_with_its_line(tmp_path: Path) -> None:
    """a2p optouts push prints every record RingCentral refused (failedRecords) and every
    unreadable line with its line number, opts out the rest, and exits 1."""
    source = tmp_path / "stops.csv"
    good = numbers(3)
    source.write_text("name,phone\n"
                      f"a,{good[0]}\n"
                      f"b,{OTHER}\n"  # line 3: a number of the account cannot opt out
                      "c,not a number\n"  # line 4
                      f"d,{good[1]}\n"
                      f"e,{good[2]}\n")
    with SimulatorThread(sim_settings()) as running:
        done = a2p(running, "optouts", "push", str(source), "--from", SENDER)
        store = running.simulator.store.consents
        pushed = {(r.sender, r.to, r.status) for r in store.records()}
        pulled = tmp_path / "pulled.csv"
        again = a2p(running, "optouts", "pull", "--from", SENDER, "--out", str(pulled))
        wrong = a2p(running, "optouts", "pull", "--scope", "pair", "--out", str(pulled))
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert f"{source}, line 3: {OTHER}: CMN-101" in err
    assert f"{source}, line 4: " in err
    assert "2 failed" in err
    assert pushed == {(SENDER, n, "OptOut") for n in good}
    assert again.returncode == 0, again.stderr.decode()
    with pulled.open(newline="") as stream:
        assert {r["to"] for r in csv.DictReader(stream)} == set(good)
    assert wrong.returncode == 2
    assert b"--from" in wrong.stderr


def a2p(running: RunningSimulator, *args: str) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    env = {**base, "RC_SERVER_URL": running.url,
           "RC_APP_CLIENT_ID": DEMO_CREDENTIALS.client_id,
           "RC_APP_CLIENT_SECRET": DEMO_CREDENTIALS.client_secret,
           "RC_USER_JWT": DEMO_CREDENTIALS.jwt}
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          env=env, timeout=120, check=False)


async def test_account_wide_opt_outs_are_pulled_and_suppressed_under_pair(
        start: Start, tmp_path: Path) -> None:
    """A record of coverage Account taken on another number keeps --from from texting: pull
    --scope pair writes it (from ``*``), the consent search under pair finds it, and a send
    with --suppress-scope pair POSTs none of them."""
    from engine.rc import consents as api
    from engine.rc.client import ApiClient
    from engine.rc.transport import AiohttpTransport

    running, settings = await start(failure_rate=0.0)
    listed = numbers(40)
    store = running.simulator.store.consents
    now = running.simulator.now()
    store.set_account(OTHER, listed[2], "OptOut", "Api", now)  # every number of the account
    store.set_account(SENDER, listed[4], "OptOut", "Api", now)  # found by both searches
    opt_out(running, SENDER, listed[6])
    opt_out(running, OTHER, listed[8])  # another pair's: not --from's
    wide = {listed[2], listed[4]}

    pair = tmp_path / "mine.csv"
    pulled = await pull(pair, scope="pair", sender=SENDER, config=settings,
                        credentials=DEMO_CREDENTIALS)
    with pair.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert pulled.records == 3
    assert sorted(r["to"] for r in rows) == sorted({*wide, listed[6]})
    assert {r["to"]: r["from"] for r in rows}[listed[2]] == "*"

    transport = AiohttpTransport(30.0)
    client = ApiClient(settings, DEMO_CREDENTIALS, transport, clock=time.monotonic,
                       sleep=anyio.sleep)
    try:
        read = await api.search(client, SENDER)
    finally:
        await transport.close()
    assert read.opt_outs is not None
    assert sorted(r.to for r in read.opt_outs) == sorted({*wide, listed[6]})
    assert {r.sender for r in read.opt_outs if r.to in wide} == {"*"}

    report = await engine.send(write_list(tmp_path / "list.csv", listed), sender=SENDER,
                               text="Hi", config=settings, credentials=DEMO_CREDENTIALS,
                               suppress_scope="pair", wait="accepted")
    posted = ledger_numbers(running)
    assert sorted(posted) == sorted(set(listed) - {*wide, listed[6]})
    assert report["totals"]["suppressed"] == {"consent": 3}


async def test_a_pair_pull_reads_the_same_opt_outs_from_the_export_and_the_search(
        start: Start, tmp_path: Path) -> None:
    """On one store (a pair's opt-out, account-wide ones taken on the sender and on another
    number, campaign-type ones from the sender and from another): pull --scope pair via the
    export and via the search write the same rows, each once; so do the account pulls."""
    running, settings = await start(failure_rate=0.0)
    listed = numbers(7)
    store = running.simulator.store.consents
    now = running.simulator.now()
    opt_out(running, SENDER, listed[1])
    store.set_account(SENDER, listed[2], "OptOut", "Api", now)
    store.set_account(OTHER, listed[3], "OptOut", "Api", now)
    store.set(SENDER, listed[4], "OptOut", "Api", now).coverage = "CampaignType"
    store.set(OTHER, listed[5], "OptOut", "Api", now).coverage = "CampaignType"
    opt_out(running, OTHER, listed[6])

    async def rows(scope: str, via: str) -> list[tuple[str, str]]:
        out = tmp_path / f"{scope}-{via}.csv"
        await pull(out, scope=scope, sender=SENDER if scope == "pair" else None, via=via,
                   config=settings, credentials=DEMO_CREDENTIALS)
        with out.open(newline="") as stream:
            return sorted((r["to"], r["from"]) for r in csv.DictReader(stream))

    pair = await rows("pair", "export")
    assert pair == [(listed[1], SENDER), (listed[2], "*"), (listed[3], "*"),
                    (listed[4], SENDER)]
    assert await rows("pair", "search") == pair
    assert await rows("account", "search") == await rows("account", "export")
