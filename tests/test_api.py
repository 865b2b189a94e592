"""The library door on fakes: one frozen options object, or keywords that build it; the
library never imports the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

import engine
from engine.errors import AuthServiceError, JournalBusyError, UsageError
from engine.rc.transport import Reply
from engine.run import report as report_module
from engine.run.journallock import JournalLock
from engine.run.options import SendOptions
from tests.fakes import (
    CREDENTIALS,
    SENDER,
    Answer,
    FakeA2P,
    FakeClock,
    MockTransport,
    Request,
    reply,
    settings,
)


def options(**changes: Any) -> SendOptions:
    clock = FakeClock()
    return SendOptions(sender=SENDER, text="Hi", config=settings(), credentials=CREDENTIALS,
                       transport=MockTransport(FakeA2P()), clock=clock, sleep=clock.sleep,
                       preflight=False, **changes)


async def test_an_options_object_and_keywords_make_the_same_run() -> None:
    """send(recipients, options) and send(recipients, **keywords) send the same batches."""
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    by_object = await engine.send(numbers, options(max_batch_bytes=300))
    given = options()
    keywords = {name: getattr(given, name) for name in
                ("sender", "text", "config", "credentials", "clock", "sleep", "preflight")}
    by_keywords = await engine.send(numbers, transport=MockTransport(FakeA2P()),
                                    max_batch_bytes=300, **keywords)
    for report in (by_object, by_keywords):
        assert report["status"] == "completed"
        assert report["totals"]["sent"] == 25
    assert [b["messages"] for b in by_object["batches"]] == \
        [b["messages"] for b in by_keywords["batches"]]


async def test_keywords_change_the_options_given() -> None:
    """A keyword next to an options object wins over the object's value."""
    report = await engine.send(["+14155550100"], options(), wait="accepted")
    assert report["settings"]["wait"] == "accepted"
    assert report["batches"][0]["status"] == "accepted"


def test_a_misspelt_option_or_a_bad_value_is_refused_with_the_choices() -> None:
    """An unknown keyword names the options; a bad wait names the allowed values."""
    with pytest.raises(TypeError, match="unexpected keyword arguments sendr"):
        SendOptions.of(None, {"sendr": SENDER})
    with pytest.raises(UsageError, match="wait must be one of completed, accepted"):
        SendOptions(wait="forever")  # type: ignore[arg-type]  # refused at run time too


def test_the_library_path_imports_no_simulator() -> None:
    """engine.send, engine.outcomes and the CLI's send path load nothing of the simulator."""
    code = ("import sys, engine, engine.run.api, engine.results.export, engine.cli.commands; "
            "print(sorted(m for m in sys.modules if m.startswith('engine.simulator')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


async def test_a_journal_held_by_another_run_is_refused_before_any_request(
        tmp_path: Path) -> None:
    """send(journal=J) and send(resume=J) while J is held: JournalBusyError (a usage error,
    exit 2 in the CLI) naming J, and not one request, not even the login."""
    journal = tmp_path / "run.journal"
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    first = await engine.send(numbers, options(max_batch_bytes=300, journal=journal))
    assert first["status"] == "completed"
    for given in ({"journal": tmp_path / "other.journal"}, {"resume": journal}):
        held = Path(given.get("journal") or given["resume"])
        transport = MockTransport(FakeA2P())
        with JournalLock(held, "a2p send"), pytest.raises(JournalBusyError) as refused:
            await engine.send(numbers, options(**given), transport=transport)
        assert isinstance(refused.value, UsageError)
        assert str(held) in str(refused.value)
        assert transport.requests == []


async def test_a_run_stopped_before_the_login_reports_interrupted() -> None:
    """Stopped before anything was sent: status interrupted, not completed, 0 sent."""
    stop = anyio.Event()
    stop.set()
    report = await engine.send(["+14155550100"], options(stop=stop))
    assert report["interrupted"] is True
    assert report["status"] == "interrupted"
    assert report["totals"]["sent"] == 0


async def test_a_stopped_run_does_not_warn_that_its_list_is_mostly_rejected() -> None:
    """A run stopped after one chunk counts only what it chunked: 20 bad rows then 100 good
    would look 70 % bad, so no mostly-rejected warning (a guess) goes in its report."""
    stop = anyio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            stop.set()

    numbers = [f"bad{k}" for k in range(20)] + [f"+1415555{k:04d}" for k in range(100)]
    report = await engine.send(numbers, options(stop=stop, on_event=on_event, concurrency=1,
                                                max_batch_bytes=300))
    assert report["status"] == "interrupted"
    assert report["totals"]["rejectedLocal"] * 2 > report["totals"]["records"]
    assert not [w for w in report["warnings"] if "were rejected" in w]


async def test_a_resume_against_another_server_is_refused_before_any_request(
        tmp_path: Path) -> None:
    """send(resume=J) with settings pointing at another server than the run's: a usage error
    (exit 2) naming both servers and the fix, and not one request, not even the login."""
    journal = tmp_path / "run.journal"
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    first = await engine.send(numbers, options(max_batch_bytes=300, journal=journal))
    assert first["status"] == "completed"
    elsewhere = replace(settings(), server_url="https://platform.devtest.ringcentral.com")
    transport = MockTransport(FakeA2P())
    with pytest.raises(UsageError) as refused:
        await engine.send(numbers, options(resume=journal), config=elsewhere,
                          transport=transport)
    message = str(refused.value)
    assert settings().server_url in message
    assert "https://platform.devtest.ringcentral.com" in message
    assert "RC_SERVER_URL=" in message
    assert transport.requests == []


@dataclass
class TokenEndpointDown(FakeA2P):
    """The token endpoint answers the first login, then 503 for good; a POST is answered
    401 after ``good_posts`` (the token was revoked), so the run must get a new one."""

    good_posts: int = 1
    logins: int = 0

    def __call__(self, request: Request) -> Answer:
        if request.path.endswith("/oauth/token"):
            self.logins += 1
            if self.logins > 1:
                return reply(503, {"errorCode": "CMN-503", "message": "down"})
        if request.method == "POST" and request.path == "/batches":
            if self.good_posts == 0:
                return reply(401, {"errorCode": "TokenInvalid", "message": "revoked"})
            self.good_posts -= 1
        return super().__call__(request)


async def test_a_token_endpoint_failing_mid_run_still_ends_with_a_report_and_a_summary(
        tmp_path: Path) -> None:
    """The token endpoint fails after the first batch went out: the run still writes its
    report (status failed, the error among its warnings, the sent batch counted) and emits a
    summary event, then raises AuthServiceError (exit 1) as before."""
    report_path = tmp_path / "r.json"
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    numbers = [f"+1415555{k:04d}" for k in range(25)]
    with pytest.raises(AuthServiceError):
        await engine.send(numbers, options(max_batch_bytes=300, journal=tmp_path / "j",
                                           report=report_path, on_event=on_event),
                          transport=MockTransport(TokenEndpointDown()))
    report = orjson.loads(report_path.read_bytes())
    assert report["status"] == "failed"
    assert report["interrupted"] is False
    assert report["totals"]["sent"] > 0
    assert any("token endpoint" in warning for warning in report["warnings"])
    assert events[-1]["event"] == "summary"
    assert events[-1]["status"] == "failed"


async def test_the_report_is_written_while_the_journal_is_still_locked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No second process can take the journal before the report is on disk: at the moment
    the report is written, the journal's lock is still held."""
    journal = tmp_path / "run.journal"
    held_then: list[bool] = []
    real_finish = report_module.finish  # what engine.run.onerun calls

    def finish(**given: Any) -> Any:
        lock = JournalLock(journal, "a2p outcomes", readonly=True)
        try:
            lock.acquire()
        except JournalBusyError:
            held_then.append(True)
        else:
            held_then.append(False)
            lock.release()
        return real_finish(**given)

    monkeypatch.setattr("engine.run.onerun.finish", finish)
    report = await engine.send([f"+1415555{k:04d}" for k in range(5)],
                               options(journal=journal, report=tmp_path / "r.json"))
    assert report["status"] == "completed"
    assert held_then == [True]


async def test_a_spill_that_fails_after_a_201_leaves_the_batch_journaled_accepted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer is journaled before its rejections are spilled: when the spill fails (a full
    disk), the journal already holds the batch as accepted with its id, so no resume, even
    with --on-ambiguous resend, could send it again."""
    from engine.run.spill import FileSpill, SpillError

    server = FakeA2P()

    def rejecting(request: Request) -> Reply:
        batch = server.make(request.json())
        batch["rejected"] = [{"index": 1, "to": request.json()["messages"][0]["to"],
                              "errorCode": "SMS-CAR-411", "description": "landline"}]
        return reply(201, batch)

    def full(self: FileSpill, index: int, payload: bytes) -> None:
        raise SpillError("no space")

    monkeypatch.setattr(FileSpill, "add", full)
    server.posts.append(rejecting)
    journal = tmp_path / "run.journal"
    with pytest.raises(SpillError):
        await engine.send(["+14155550100", "+14155550101"], options(journal=journal),
                          transport=MockTransport(server))
    states = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    accepted = [e for e in states if e.get("status") == "accepted"]
    assert [e["batchId"] for e in accepted] == ["b1"]


@pytest.mark.parametrize("over", ["journal", "input"])
async def test_a_report_path_that_is_the_journal_or_the_list_is_refused_before_sending(
        tmp_path: Path, over: str) -> None:
    """--report naming the journal or the input would destroy it: refused, nothing sent, the
    list untouched."""
    listed = tmp_path / "list.txt"
    listed.write_text("+14155550100\n")
    journal = tmp_path / "run.journal"
    server = FakeA2P()
    report = journal if over == "journal" else tmp_path / "." / "list.txt"
    with pytest.raises(UsageError, match="would destroy it"):
        await engine.send(str(listed), options(journal=journal, report=report),
                          transport=MockTransport(server))
    assert server.batches == {}
    assert listed.read_text() == "+14155550100\n"


async def test_a_report_path_through_a_symlink_writes_the_file_it_names(tmp_path: Path) -> None:
    """--report as a symlink: the link stays, the file it names holds the new report."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "real.json").write_text("old")
    link = tmp_path / "r.json"
    link.symlink_to(shared / "real.json")
    await engine.send(["+14155550100"], options(report=link))
    assert link.is_symlink()
    assert orjson.loads((shared / "real.json").read_bytes())["totals"]["sent"] == 1


async def test_a_report_path_that_is_not_a_file_is_refused_before_sending(
        tmp_path: Path) -> None:
    """A folder (or a device, a pipe) as the report path: refused before any request."""
    server = FakeA2P()
    with pytest.raises(UsageError, match="is not a file"):
        await engine.send(["+14155550100"], options(report=tmp_path),
                          transport=MockTransport(server))
    assert server.batches == {}


async def test_a_report_that_cannot_be_written_says_the_journal_writes_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills while the report is written ends the run with an EngineError naming
    the report and `a2p send --resume`, not a bare OSError, and leaves no temporary file."""
    from engine.run import reportfile

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reportfile, "write_stream", full)
    with pytest.raises(reportfile.ReportWriteError, match=r"r\.json.*--resume"):
        await engine.send(["+14155550100"], options(report=tmp_path / "r.json"))
    assert os.listdir(tmp_path) == []
