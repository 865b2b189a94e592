"""A run that ends in an exception leaves its metrics file saying so (``a2p_finished 1``,
``a2p_failed 1``): a failed run is never taken for a stuck one, whichever step failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import engine
from engine.config.credentials import DEMO_CREDENTIALS, Credentials
from engine.run import reportfile
from tests.e2e.conftest import SENDER, Start

EVERYONE = [f"+1415555{i:04d}" for i in range(40)]


class Mine(Exception):
    """The caller's own failure, raised by its event callback."""


def _ended(path: Path) -> tuple[float, float, float]:
    """(finished, failed, sent) of the metrics file, through prometheus_client's parser."""
    values = {sample.name: sample.value
              for family in text_string_to_metric_families(path.read_text())
              for sample in family.samples}
    return values["a2p_finished"], values["a2p_failed"], values["a2p_sent_total"]


async def test_an_event_callback_raising_at_the_summary_marks_the_run_failed(
        start: Start, tmp_path: Path) -> None:
    """on_event raising at the summary (after the report): the caller's exception comes
    out, and the metrics file says finished and failed, with everyone it sent."""
    _, settings = await start()

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "summary":
            raise Mine("the dashboard is down")

    with pytest.raises(Mine):
        await engine.send(EVERYONE, sender=SENDER, text="Hi", config=settings,
                          credentials=DEMO_CREDENTIALS, metrics=tmp_path / "run.prom",
                          on_event=on_event)
    assert _ended(tmp_path / "run.prom") == (1, 1, len(EVERYONE))


async def test_a_report_that_cannot_be_written_marks_the_run_failed(
        start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's folder refuses the file (a full disk): ReportWriteError, and the
    metrics file says finished and failed."""
    _, settings = await start()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reportfile, "replace_file", refuse)
    with pytest.raises(engine.EngineError, match="report could not be written"):
        await engine.send(EVERYONE, sender=SENDER, text="Hi", config=settings,
                          credentials=DEMO_CREDENTIALS, metrics=tmp_path / "run.prom",
                          report=tmp_path / "report.json")
    assert _ended(tmp_path / "run.prom") == (1, 1, len(EVERYONE))


async def test_a_refused_login_marks_the_run_failed(start: Start, tmp_path: Path) -> None:
    """Credentials refused at the first sign-in: AuthError, and the file (written before
    the sign-in, with this run's id) says finished and failed, nothing sent."""
    _, settings = await start()
    wrong = Credentials(DEMO_CREDENTIALS.client_id, "not-the-secret", DEMO_CREDENTIALS.jwt)
    with pytest.raises(engine.AuthError):
        await engine.send(EVERYONE, sender=SENDER, text="Hi", config=settings,
                          credentials=wrong, metrics=tmp_path / "run.prom")
    assert _ended(tmp_path / "run.prom") == (1, 1, 0)
