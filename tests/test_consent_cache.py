"""The opt-outs cache beside the journal (engine/run/consentcache.py): written a record at a
time and put in place only whole; read back the same; never used when cut, another run's or
another server's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.core import consent as rules
from engine.core.consent import Cached, OptOut
from engine.run.consentcache import CacheWriter, cached_records, load_cache

SERVER = "http://127.0.0.1:1"
RECORDS = [OptOut(f"+1415555{k:04d}", "+16505550100" if k % 2 else "*",
                  "2026-03-01T12:00:00.123Z") for k in range(2500)]
READ = Cached(1_800_000_000.0, rules.EXPORT, None, '"etag-1"', 0)


def write(path: Path, records: list[OptOut], owner: str | None = "run-1/abc") -> None:
    with CacheWriter(path, SERVER, READ, owner) as writer:
        for _ in writer.passing(records):
            pass


def test_written_whole_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "run.journal.consents"
    write(path, RECORDS)
    cached = load_cache(path, SERVER, "run-1/abc")
    assert cached == Cached(READ.read_at, rules.EXPORT, None, '"etag-1"', 2500)
    assert list(cached_records(path)) == RECORDS
    assert not path.with_name(path.name + ".part").exists()


def test_a_read_that_failed_midway_leaves_the_old_cache(tmp_path: Path) -> None:
    """An export that turns out bad after 1,000 records (or a kill) must not leave a cache
    of those 1,000: a later run would take it as every opt-out."""
    path = tmp_path / "run.journal.consents"
    write(path, RECORDS[:10])

    def spoiled() -> Iterator[OptOut]:
        yield from RECORDS[:1000]
        raise ValueError("bad row")

    def read() -> None:
        with CacheWriter(path, SERVER, READ, "run-1/abc") as writer:
            for _ in writer.passing(spoiled()):
                pass

    with pytest.raises(ValueError, match="bad row"):
        read()
    assert list(cached_records(path)) == RECORDS[:10]
    assert not path.with_name(path.name + ".part").exists()


def test_a_cache_cut_short_or_not_ours_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "run.journal.consents"
    write(path, RECORDS)
    assert load_cache(path, SERVER, "run-2/abc") is None  # another run's
    assert load_cache(path, "https://platform.ringcentral.com", "run-1/abc") is None
    assert load_cache(path, SERVER, None) is not None  # whoever wrote it
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])  # cut: no end line
    assert load_cache(path, SERVER, "run-1/abc") is None
    path.write_bytes(b'{"version": 1, "records": []}')  # the old format
    assert load_cache(path, SERVER, None) is None


def test_without_a_path_it_only_counts(tmp_path: Path) -> None:
    with CacheWriter(None, SERVER, READ) as writer:
        assert list(writer.passing(RECORDS[:7])) == RECORDS[:7]
    assert writer.count == 7
    assert list(tmp_path.iterdir()) == []
