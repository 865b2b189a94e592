"""Authentication against the simulator: tokens that expire again and again, refreshes that
are refused, and a token endpoint that fails. A 401 never costs a recipient, and a failing
token endpoint is the server's problem, finished by ``--resume`` once it heals."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.policy import NOT_SENT
from engine.errors import AuthError, AuthServiceError
from engine.run.journal import read_journal
from engine.simulator import FaultSettings
from engine.types import Report
from tests.e2e.conftest import SENDER, Start, ledger_numbers
from tests.lists import any_country, scattered


def write_list(path: Path, n: int) -> list[str]:
    numbers = scattered(n, random.Random(n), bad=0.0)[0]
    path.write_text("to\n" + "".join(f"{number}\n" for number in numbers))
    return numbers


async def send(path: Path, settings: engine.Settings, **options: Any) -> Report:
    options = {"text": "Hi", "max_batch_bytes": 1500, "concurrency": 3, **options}
    options.setdefault("read", any_country(options["text"]))
    return await engine.send(path, sender=SENDER, config=settings,
                             credentials=DEMO_CREDENTIALS, **options)


@pytest.mark.parametrize("refresh_refused_rate", [0.0, 0.5])
async def test_tokens_that_expire_again_and_again_cost_no_recipient(
        start: Start, tmp_path: Path, refresh_refused_rate: float) -> None:
    """Every token dies after two requests (and half the refreshes are refused, so the
    JWT is presented again): three workers meet 401s in quick succession, yet every
    recipient is texted exactly once and no chunk fails."""
    running, settings = await start(faults=FaultSettings(
        seed=3, expire_after_requests=2, refresh_refused_rate=refresh_refused_rate))
    numbers = write_list(tmp_path / "list.csv", 800)
    report = await send(tmp_path / "list.csv", settings)
    stats = running.simulator.stats
    assert stats["token_expired"] > 10
    assert (stats["refresh_refused"] > 0) is (refresh_refused_rate > 0)
    assert sorted(ledger_numbers(running)) == sorted(numbers)
    assert report["status"] == "completed"
    assert [b for b in report["batches"] if b["status"] != "completed"] == []
    assert report["totals"]["sent"] == len(numbers)


async def test_a_token_endpoint_that_fails_mid_run_leaves_chunks_resume_sends_once(
        start: Start, tmp_path: Path) -> None:
    """Mid-run the token dies and the token endpoint fails every call: the run ends with
    AuthServiceError (not AuthError), the chunks that met it are recorded as not sent, and
    once the endpoint heals ``--resume`` texts every recipient exactly once."""
    running, settings = await start(faults=FaultSettings(latency=0.01))
    numbers = write_list(tmp_path / "list.csv", 600)
    journal = tmp_path / "run.journal"
    submitted = 0

    async def on_event(event: dict[str, Any]) -> None:
        nonlocal submitted
        if event["event"] == "chunk_submitted":
            submitted += 1
            if submitted == 2:
                running.simulator.set_faults(FaultSettings(
                    expire_after_requests=1, token_error_rate=1.0,
                    token_error_statuses=(503,), token_error_html=True))

    with pytest.raises(AuthServiceError, match="token endpoint") as caught:
        await send(tmp_path / "list.csv", settings, journal=journal, on_event=on_event,
                   wait="accepted")
    assert not isinstance(caught.value, AuthError)
    entries = read_journal(journal).chunks.values()
    not_sent = [e for e in entries if e["status"] == "failed"]
    assert not_sent
    assert all(e["error"]["errorCode"] == NOT_SENT for e in not_sent)
    assert len(ledger_numbers(running)) < len(numbers)
    running.simulator.set_faults(FaultSettings())
    report = await send(tmp_path / "list.csv", settings, resume=journal)
    assert sorted(ledger_numbers(running)) == sorted(numbers)
    assert report["status"] == "completed"
    assert report["totals"]["sent"] == len(numbers)
