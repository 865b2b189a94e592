"""``on_event`` may be a coroutine function or a plain one (a list's ``append``, a lambda, an
object whose call returns an awaitable): the run calls it for every event, awaiting only what
is awaitable, in a plain send and in a scheduled one (whose loop of rounds emits its own
``waiting`` and ``summary``)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from tests.e2e.conftest import SENDER, Start, ledger_numbers

NUMBERS = [f"+1415555{i:04d}" for i in range(5)]


def _options(settings: engine.Settings, tmp_path: Path, name: str) -> dict[str, Any]:
    return {"sender": SENDER, "text": "Hi", "config": settings, "credentials": DEMO_CREDENTIALS,
            "journal": tmp_path / f"{name}.journal"}


class Later:
    """A callable object whose call returns an awaitable (not a coroutine function)."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def __call__(self, event: dict[str, Any]) -> Awaitable[None]:
        async def record() -> None:
            self.kinds.append(event["event"])
        return record()


async def test_a_plain_function_hears_every_event_a_coroutine_hears(start: Start,
                                                                    tmp_path: Path) -> None:
    """The same send heard by a coroutine function, by a list's append, by a lambda and by
    an object returning an awaitable: each gets the same events, and everyone is texted."""
    running, settings = await start()
    heard: list[str] = []

    async def coroutine(event: dict[str, Any]) -> None:
        heard.append(event["event"])

    await engine.send(NUMBERS, on_event=coroutine, **_options(settings, tmp_path, "a"))
    appended: list[dict[str, Any]] = []
    await engine.send(NUMBERS, on_event=appended.append, **_options(settings, tmp_path, "b"))
    lambdas: list[str] = []
    await engine.send(NUMBERS, on_event=lambda event: lambdas.append(event["event"]),
                      **_options(settings, tmp_path, "c"))
    later = Later()
    await engine.send(NUMBERS, on_event=later, **_options(settings, tmp_path, "d"))
    assert heard[-1] == "summary"
    assert "chunk_submitted" in heard
    assert [e["event"] for e in appended] == heard == lambdas == later.kinds
    assert sorted(ledger_numbers(running)) == sorted(NUMBERS * 4)


async def test_a_plain_function_hears_a_scheduled_send_wait(start: Start, tmp_path: Path
                                                            ) -> None:
    """A scheduled send starting tomorrow, heard by a list's append: its waiting event (from
    the loop of rounds) and its summary come through, and nobody is texted yet."""
    running, settings = await start()
    at = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{n}\n" for n in NUMBERS))
    heard: list[dict[str, Any]] = []
    report = await engine.send(listing, on_event=heard.append, at=at, exit_when_waiting=True,
                               **_options(settings, tmp_path, "s"))
    kinds = [e["event"] for e in heard]
    assert kinds[-2:] == ["waiting", "summary"]
    assert heard[-2]["reason"] == "at"
    assert report["schedule"]["state"] == "waiting"
    assert ledger_numbers(running) == []
