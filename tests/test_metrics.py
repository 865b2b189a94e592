"""The metrics file as a node exporter's textfile collector reads it: exact counters, a mode
its own user can read, a last write that waits out a passing reader on Windows, an ended
run told from a stuck one, and no temporary files left by killed writers."""

from __future__ import annotations

import errno
import logging
import os
import stat
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.run import replacing
from engine.run.metrics import STALE_AFTER, Metrics


def _metrics(path: Path, sent: int = 10, read: int = 10, local: int = 0, requests: int = 3,
             waited: float = 0.0) -> Metrics:
    aggregator = types.SimpleNamespace(records=read, sent=sent, rejected_local=local,
                                       rejected_server=7)
    recorder = types.SimpleNamespace(aggregator=aggregator, records={})
    budget = types.SimpleNamespace(left=lambda: 9, waited=waited)
    client = types.SimpleNamespace(light=budget, auth=budget, requests=requests, throttled=0)
    return Metrics(path, "run-1", cast(Any, recorder), cast(Any, client))


def _parsed(text: str) -> dict[str, float]:
    """Each sample's value by name (with its extra labels), through prometheus_client."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            extra = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items())
                             if k != "run_id")
            found[sample.name + (f"{{{extra}}}" if extra else "")] = sample.value
    return found


def test_counters_of_millions_are_written_exactly(tmp_path: Path) -> None:
    """1,234,567 sent reads back as 1234567 with prometheus_client's parser (not rounded to
    six digits), and so does every other counter of a huge list, floats included."""
    metrics = _metrics(tmp_path / "run.prom", sent=1_234_567, read=2_345_678,
                       local=1_000_001, requests=3_000_001, waited=1_234_567.891)
    metrics.write()
    text = (tmp_path / "run.prom").read_text()
    assert "e+" not in text
    values = _parsed(text)
    assert values["a2p_sent_total"] == 1_234_567
    assert values["a2p_records_read_total"] == 2_345_678
    assert values["a2p_rejected_total{source=local}"] == 1_000_001
    assert values["a2p_requests_total"] == 3_000_001
    assert values["a2p_waited_seconds_total{group=light}"] == 1_234_567.891


@pytest.fixture
def umask_022() -> Iterator[None]:
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_the_file_is_readable_by_a_node_exporter_running_as_another_user(
        tmp_path: Path, umask_022: None) -> None:
    """Under umask 022 the metrics file is 0644, like the report: group and others (the
    exporter's own user) can read it, only the owner write it."""
    metrics = _metrics(tmp_path / "run.prom")
    metrics.write()
    metrics.close()
    mode = stat.S_IMODE((tmp_path / "run.prom").stat().st_mode)
    assert mode == 0o644


@pytest.fixture
def windows_busy_once(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The Windows path of replacing a file, whose target a reader holds for one try when
    the returned flag is set."""
    busy = [False]
    real = os.replace

    def replace(source: Any, target: Any) -> None:
        if busy[0]:
            busy[0] = False
            raise PermissionError(errno.EACCES, "Access is denied", str(target))
        real(source, target)

    monkeypatch.setattr(replacing, "WINDOWS", True)
    monkeypatch.setattr(replacing, "_replace", replace)
    return busy


def test_the_last_write_waits_out_a_passing_reader_on_windows(
        tmp_path: Path, windows_busy_once: list[bool]) -> None:
    """An exporter reading the file at the moment of the last write (a sharing violation on
    Windows) does not leave it saying the run never finished: the write is tried again."""
    metrics = _metrics(tmp_path / "run.prom")
    metrics.write()
    windows_busy_once[0] = True
    metrics.close()
    assert _parsed((tmp_path / "run.prom").read_text())["a2p_finished"] == 1
    assert not windows_busy_once[0]


def test_a_busy_file_says_what_to_do_for_a_metrics_file(
        tmp_path: Path, windows_busy_once: list[bool], caplog: pytest.LogCaptureFixture
        ) -> None:
    """A periodic write that meets a reader is said once, with advice for a metrics file
    (it is written again), never "run the same command again"."""
    metrics = _metrics(tmp_path / "run.prom")
    windows_busy_once[0] = True
    with caplog.at_level(logging.WARNING, logger="engine.metrics"):
        metrics.write()
    said = [r.getMessage() for r in caplog.records if "cannot write the metrics" in
            r.getMessage()]
    assert len(said) == 1
    assert "written again" in said[0]
    assert "run the same command again" not in said[0]


def test_an_ended_run_is_told_from_a_stuck_one(tmp_path: Path) -> None:
    """While the run goes: finished 0, failed 0; ended well: finished 1, failed 0; ended in
    an error: finished 1 and failed 1."""
    metrics = _metrics(tmp_path / "run.prom")
    metrics.write()
    going = _parsed((tmp_path / "run.prom").read_text())
    assert (going["a2p_finished"], going["a2p_failed"]) == (0, 0)
    metrics.close()
    ended = _parsed((tmp_path / "run.prom").read_text())
    assert (ended["a2p_finished"], ended["a2p_failed"]) == (1, 0)
    metrics = _metrics(tmp_path / "other.prom")
    metrics.close(failed=True)
    failed = _parsed((tmp_path / "other.prom").read_text())
    assert (failed["a2p_finished"], failed["a2p_failed"]) == (1, 1)


def test_temporary_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    """A temporary file a writer killed mid-write left beside the file is removed by the
    next run's first write; a fresh one (maybe another writer's, mid-write) is kept, and
    other files are never touched."""
    old = tmp_path / ".run.prom.0123456789ab.tmp"
    fresh = tmp_path / ".run.prom.ba9876543210.tmp"
    other = tmp_path / ".other.prom.0123456789ab.tmp"
    for path in (old, fresh, other):
        path.write_text("a2p_sent_total 1\n")
    past = os.stat(old).st_mtime - STALE_AFTER - 60
    os.utime(old, (past, past))
    os.utime(other, (past, past))
    metrics = _metrics(tmp_path / "run.prom")
    metrics.write()
    metrics.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        sorted([fresh.name, other.name, "run.prom"])
