"""The rejection spill on disk and the report written as a stream: every rejection read back
in position order, the report the same document the in-memory build made, written whole or
not at all, and handed to library callers as a view of the file."""

from __future__ import annotations

import gc
import io
import os
import random
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from engine.core import lifecycle
from engine.core.aggregator import Aggregator
from engine.core.chunkindex import PositionIndex
from engine.core.rejections import INVALID_NUMBER, Rejection, mostly_rejected
from engine.core.spillruns import Tally
from engine.run import reportfile
from engine.run.report import ChunkRecord, build_report, finish, totals_of
from engine.run.reportfile import (
    RejectedView,
    ReportChangedError,
    ReportWriteError,
    write_report,
    write_stream,
)
from engine.run.spill import SUFFIX, FileSpill, SpillError, open_spill


def bad(index: int, code: str = INVALID_NUMBER) -> Rejection:
    return Rejection(index, index + 2, f"n{index}", code, f"'n\u00e9{index}', \"bad\"")


def test_the_spill_reads_back_thousands_of_runs_sorted_in_bounded_passes(
        tmp_path: Path) -> None:
    """5,000 runs merged with a fan-in of 16 (two cascade passes): every rejection once, by
    position, payloads intact, and the scratch files of the passes gone afterwards."""
    positions = list(range(50_000))
    random.Random(5).shuffle(positions)
    with FileSpill(tmp_path / "x.spill", fan_in=16) as spill:
        for k in range(0, 50_000, 10):
            for i in sorted(positions[k:k + 10]):
                spill.add(i, orjson.dumps(bad(i).as_json()))
        assert spill.runs >= 4_000
        for _ in range(2):  # re-iterable
            merged = list(spill.merged())
            assert [i for i, _ in merged] == list(range(50_000))
            assert all(orjson.loads(p) == bad(i).as_json() for i, p in merged[::997])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.spill"]
    assert list(tmp_path.iterdir()) == []  # closed: removed


def test_an_empty_spill_and_records_larger_than_the_read_buffer(tmp_path: Path) -> None:
    """No rejections merge to nothing; a 200 KB description survives the buffered reader."""
    with FileSpill(tmp_path / "e.spill") as spill:
        assert list(spill.merged()) == []
        spill.add(3, b'"' + b"y" * 200_000 + b'"')
        spill.add(1, b"1")
        assert [(i, len(p)) for i, p in spill.merged()] == [(1, 1), (3, 200_002)]


def test_a_runs_spill_lives_beside_its_journal_and_replaces_a_stray_one(tmp_path: Path) -> None:
    """<journal>.rejected.spill (a killed run's leftover is truncated), else a uniquely named
    file beside the report, else a temporary one; each removed on close."""
    journal = tmp_path / "run.journal"
    stray = Path(f"{journal}{SUFFIX}")
    stray.write_bytes(b"junk from a killed run")
    with open_spill(journal, tmp_path / "r.json") as spill:
        assert spill.path == stray
        assert stray.stat().st_size == 0
        spill.add(1, b"1")
        assert list(spill.merged()) == [(1, b"1")]
    assert not stray.exists()
    with open_spill(None, tmp_path / "r.json") as spill:
        assert spill.path.parent == tmp_path
        assert spill.path.name.startswith("r.json.")
        assert spill.path.name.endswith(SUFFIX)
    with open_spill(None, None) as spill:
        assert spill.path.name.endswith(SUFFIX)
    assert list(tmp_path.iterdir()) == []


def records() -> list[ChunkRecord]:
    done = ChunkRecord(1, 0, 99, 90, 5_000, state=lifecycle.COMPLETED, batch_id="b1",
                       delivered=88, cost=0.5)
    return [done, ChunkRecord(2, 100, 199, 100, 5_000, state=lifecycle.FAILED)]


def run_aggregator(step: int, spill: FileSpill | None = None) -> Aggregator:
    """Local rejections in order (every ``step``-th position), a chunk's server rejections
    out of order."""
    aggregator = Aggregator(spill) if spill is not None else Aggregator()
    for i in range(0, 200, step):
        aggregator.add_local(bad(i, "LCL-NOT-NORTH-AMERICAN"))
    for first in (250, 200):  # the later chunk answers first
        index = PositionIndex()
        index.extend(range(first, first + 50), None)
        aggregator.add_chunk(index, f"b{first}", [
            {"index": k, "errorCode": "CMN-100", "to": ["+1"], "description": "x"}
            for k in (40, 3, 17)])
    return aggregator


def old_finish(aggregator: Aggregator, path: Path) -> dict[str, Any]:
    """The report as the code before the spill made it (all in memory, one dumps), for the
    run ``test_the_streamed_report_equals_the_one_built_in_memory`` finishes."""
    aggregator.records = sum(r.count for r in records()) + aggregator.rejected_local
    rejected = aggregator.rejections()
    document = build_report(run_id="r", profile="p", source="in.csv", settings={"a": 1},
                            started="t0", records=records(),
                            totals=totals_of(records(), aggregator, "completed"),
                            wait="completed", interrupted=False, rejected=rejected,
                            finished="t1")
    document["requests"] = {"made": 3, "throttled": 1}
    document["preflight"] = None
    document["consent"] = None
    document["warnings"] = ["w"]
    warning = mostly_rejected(aggregator.records, rejected)
    if warning is not None:
        document["warnings"].append(warning)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return cast(dict[str, Any], orjson.loads(path.read_bytes()))


@pytest.mark.parametrize("step", [7, 1])  # 1: mostly rejected, with its warning
def test_the_streamed_report_equals_the_one_built_in_memory(tmp_path: Path, step: int) -> None:
    """Same input, same document: the streamed file parses to exactly what the old
    all-in-memory build and dump produced, key order included."""
    path = tmp_path / "r.json"
    with FileSpill(tmp_path / "s.spill") as spill:
        aggregator = run_aggregator(step, spill)
        done = finish(run_id="r", profile="p", source="in.csv", settings={"a": 1},
                      started="t0", records=records(), aggregator=aggregator,
                      wait="completed", interrupted=False, requests=3, throttled=1,
                      preflight=None, warnings=["w"], path=path, finished="t1")
    old = old_finish(run_aggregator(step), path=tmp_path / "old.json")
    written = orjson.loads(path.read_bytes())
    assert written == old
    assert list(written) == list(old)
    assert [r["index"] for r in written["rejected"]] == sorted(
        r["index"] for r in written["rejected"])
    view = done.document["rejected"]
    assert len(view) == len(old["rejected"]) == len(range(0, 200, step)) + 6
    assert len(old["warnings"]) == (2 if step == 1 else 1)
    assert list(view) == old["rejected"]
    assert view == old["rejected"]
    assert view[0] == old["rejected"][0]
    assert view[-1] == old["rejected"][-1]
    assert view[25] == old["rejected"][25]
    assert view[1:3] == old["rejected"][1:3]
    assert orjson.loads(orjson.dumps(done.document, default=list)) == old


@pytest.mark.parametrize(("head", "tail", "items"), [
    ({}, {}, []), ({"a": [1, {"b": None}]}, {}, [b"1"]), ({}, {"z": "\u00e9\n"}, [b"{}", b"2"]),
    ({"a": 1}, {"z": {"y": []}}, [])])
@pytest.mark.parametrize("indent", [True, False])
def test_a_streamed_document_is_the_json_of_the_whole(
        tmp_path: Path, head: dict[str, object], tail: dict[str, object], items: list[bytes],
        indent: bool) -> None:
    """Empty or not, indented or compact: the stream parses to head + array + tail."""
    path = tmp_path / "d.json"
    with open(path, "wb") as out:
        write_stream(out, head, "rejected", items, tail, indent=indent)
    assert orjson.loads(path.read_bytes()) == {
        **head, "rejected": [orjson.loads(i) for i in items], **tail}


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    """The report is written to a temporary file and renamed: an error (or a kill) while
    the rejections stream leaves the old report as it was and no partial file behind."""
    path = tmp_path / "r.json"
    path.write_bytes(b'{"old": true}')

    def failing() -> object:
        yield b"{}"
        raise OSError("disk full")

    with pytest.raises(ReportWriteError, match="disk full"):
        write_report(path, {"a": 1}, "rejected", failing(), {})  # type: ignore[arg-type]
    assert path.read_bytes() == b'{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


class _CountedFile:
    """A report file opened by the view, counting the lines it reads."""

    def __init__(self, file: Any, read: list[int]) -> None:
        self._file, self._read = file, read

    def __enter__(self) -> _CountedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def seek(self, offset: int) -> int:
        return cast(int, self._file.seek(offset))

    def __iter__(self) -> Any:
        for line in self._file:
            self._read[0] += 1
            yield line


def test_indexing_a_view_reads_from_the_nearest_mark_not_from_the_top(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items, slices (any step), reversed and index() give what the list gives; once the file
    was read through, a lookup anywhere reads at most MARK lines of it, not all before it."""
    monkeypatch.setattr(RejectedView, "MARK", 64)
    items = [{"index": i, "to": f"+1415{i:07d}", "description": "a, \"b\"\n"}
             for i in range(5_000)]
    view = write_report(tmp_path / "r.json", {"a": 1}, "rejected",
                        (orjson.dumps(item) for item in items), {"z": [2]})
    read = [0]
    monkeypatch.setattr(reportfile, "open", lambda *a, **k: _CountedFile(
        open(*a, **k), read), raising=False)  # noqa: SIM115 (the wrapper closes it)
    assert view[4_999] == items[4_999]
    assert read[0] >= 5_000  # the first look reads through, noting where items are
    for k in (4_998, 17, 2_500, 63, 64, 65, 0, -1, -4_321):
        read[0] = 0
        assert view[k] == items[k]
        assert read[0] <= 64 + 1, (k, read[0])
    for cut in (slice(10, 20), slice(None, None, -7), slice(4_990, 10, -3),
                slice(100, 4_000, 250), slice(-5, None), slice(30, 10), slice(None)):
        assert view[cut] == items[cut]
    read[0] = 0
    assert view[4_000:4_010] == items[4_000:4_010]
    assert read[0] <= 64 + 10
    assert list(reversed(view)) == items[::-1]
    assert view.index(items[3_000]) == 3_000
    assert items[4_321] in view
    with pytest.raises(ValueError, match="not among"):
        view.index(items[10], 11)
    with pytest.raises(IndexError):
        view[5_000]
    with pytest.raises(IndexError):
        view[-5_001]
    assert orjson.loads((tmp_path / "r.json").read_bytes())["rejected"] == items


def test_a_view_without_a_report_path_lives_as_long_as_it_is_referenced(
        tmp_path: Path) -> None:
    """No report path: the view reads a temporary report, removed when the view is dropped."""
    view = write_report(None, {"a": 1}, "rejected", [b'{"index": 1}'], {})
    assert list(view) == [{"index": 1}]
    assert len(view) == 1
    where = view._path
    assert where.exists()
    del view
    gc.collect()
    assert not where.exists()


def test_a_view_of_a_changed_report_refuses_to_guess(tmp_path: Path) -> None:
    """The report file rewritten after the run: iterating the view says so, not wrong data."""
    path = tmp_path / "r.json"
    view = write_report(path, {}, "rejected", [b'{"index": 1}', b'{"index": 2}'], {})
    assert isinstance(view, RejectedView)
    assert view == [{"index": 1}, {"index": 2}]
    path.write_bytes(b'{"rejected": [{"index": 9}]}')
    with pytest.raises(ReportChangedError, match="changed since the run"):
        list(view)
    assert len(view) == 2


def test_the_plan_aggregator_keeps_only_what_it_shows(tmp_path: Path) -> None:
    """A Tally(keep=N) aggregator keeps N rejections whatever it spilled."""
    with FileSpill(tmp_path / "p.spill") as spill:
        aggregator = Aggregator(spill, Tally(keep=3))
        for i in range(10_000):
            aggregator.add_local(bad(i))
        assert [r.index for r in aggregator.tally.first()] == [0, 1, 2]
        assert sum(1 for _ in aggregator.merged()) == 10_000


def test_the_report_gets_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    """The renamed report is readable as before (0666 less the umask), not private 0600."""
    mask = os.umask(0o022)
    os.umask(mask)
    path = tmp_path / "r.json"
    write_report(path, {}, "rejected", [], {})
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_view_of_a_relative_report_path_survives_a_change_of_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """report="r.json" from one folder, read after moving to another: the same rejections."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    view = write_report("r.json", {}, "rejected", [b'{"index": 4}'], {})
    monkeypatch.chdir(tmp_path / "b")
    assert list(view) == [{"index": 4}]


def test_a_full_disk_while_spilling_is_an_engine_error_that_says_what_to_do(
        tmp_path: Path) -> None:
    """A write the volume refuses names the spill and says to free space: an EngineError the
    CLI reports, not a bare OSError."""

    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    with FileSpill(folder=tmp_path) as spill:
        real, spill._file = spill._file, Full()
        with pytest.raises(SpillError, match=r"rejection spill .*Free space"):
            spill.add(1, b"{}")
        spill._file = real


@pytest.mark.parametrize("arrivals", ["in order", "bursts", "none"])
def test_the_joined_payloads_are_the_merge_joined(tmp_path: Path, arrivals: str) -> None:
    """``joined`` gives, piece by piece, the payloads of ``merged`` joined by the separator:
    straight through for one run (a plan's, records larger than a buffer among them), merged
    for many, nothing for none."""
    rng = random.Random(4)
    with FileSpill(tmp_path / "j.spill") as spill:
        if arrivals == "in order":
            for i in range(30_000):
                spill.add(i, b"x" * rng.choice([1, 80, 2_000_000 if i == 7 else 3]))
            assert spill.runs == 1
        elif arrivals == "bursts":
            positions = list(range(20_000))
            rng.shuffle(positions)
            for k in range(0, 20_000, 500):
                burst = sorted(positions[k:k + 500])
                spill.add_many(burst, [str(i).encode() for i in burst])
            assert spill.runs == 40
        pieces = list(spill.joined(b","))
        assert b"".join(pieces) == b",".join(payload for _, payload in spill.merged())
        assert all(piece.startswith(b",") for piece in pieces[1:])
        assert len(pieces) < 100 or arrivals == "bursts"


def test_a_spill_without_a_journal_leaves_no_file_even_when_never_closed(
        tmp_path: Path) -> None:
    """A spill in the temporary directory (a plan's, a run's without journal or report) is
    gone from the directory as soon as it is open (a killed plan leaves nothing), and still
    reads back every rejection, merged or joined."""
    spill = FileSpill(folder=tmp_path)
    try:  # Windows (no os.pread) keeps the file until it is closed
        assert len(list(tmp_path.iterdir())) == (0 if hasattr(os, "pread") else 1)
        spill.add(2, b'"c"')
        spill.add(0, b'"a"')  # a second run
        spill.add(1, b'"b"')
        assert list(spill.merged()) == [(0, b'"a"'), (1, b'"b"'), (2, b'"c"')]
        assert b"".join(spill.joined(b",")) == b'"a","b","c"'
        spill.add(3, b'"d"')  # written on after a read: appended, not over a record
        assert [i for i, _ in spill.merged()] == [0, 1, 2, 3]
    finally:
        spill.close()
    assert list(tmp_path.iterdir()) == []
