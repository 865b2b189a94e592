"""What an input is before anything reads it: a stream read once (never peeked at), or a file
whose identity tells a resume that the list changed; opening it decompresses .gz and names
a wrong path with the fix."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.run.inputs import HEAD_BYTES, input_identity, is_stream, open_input

LIST = b"to\n+14155550100\n+14155550101\n"


def test_stdin_pipes_and_devices_are_streams_files_and_folders_are_not(tmp_path: Path) -> None:
    """'-', a FIFO and a character device are read once; a regular file, a directory and a
    missing path are not streams (open_input names the last two's problem)."""
    fifo = tmp_path / "list.fifo"
    os.mkfifo(fifo)
    listing = tmp_path / "list.csv"
    listing.write_bytes(LIST)
    assert [is_stream(name) for name in ("-", str(fifo), os.devnull)] == [True, True, True]
    assert [is_stream(str(p)) for p in (listing, tmp_path, tmp_path / "missing.csv")] == \
        [False, False, False]


def test_a_files_identity_is_its_path_size_time_and_head(tmp_path: Path) -> None:
    """Absolute path, size, mtime in ns and a 16-byte BLAKE2b digest of the first 64 KiB."""
    listing = tmp_path / "list.csv"
    listing.write_bytes(LIST)
    info = listing.stat()
    assert input_identity(str(listing)) == {
        "kind": "file", "path": str(listing.resolve()), "size": len(LIST),
        "mtimeNs": info.st_mtime_ns,
        "head": hashlib.blake2b(LIST, digest_size=16).hexdigest()}


def test_a_relative_path_is_recorded_absolute(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A resume from another directory still finds the list the journal names."""
    (tmp_path / "list.csv").write_bytes(LIST)
    monkeypatch.chdir(tmp_path)
    assert input_identity("list.csv")["path"] == str(tmp_path / "list.csv")


def test_the_same_bytes_written_again_keep_the_head_and_an_edit_changes_it(
        tmp_path: Path) -> None:
    """The head digest follows the content: equal for the same bytes, different for one
    changed number in the first 64 KiB, equal for a change only past it (size and time
    catch that one)."""
    body = b"to\n" + b"".join(b"+1415555%04d\n" % k for k in range(8000))  # > 64 KiB
    assert len(body) > HEAD_BYTES
    first, same, early, late = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv", "d.csv"))
    first.write_bytes(body)
    same.write_bytes(body)
    early.write_bytes(body.replace(b"+14155550001", b"+14155550999", 1))
    late.write_bytes(body[:-2] + b"9\n")
    head = input_identity(str(first))["head"]
    assert input_identity(str(same))["head"] == head
    assert input_identity(str(early))["head"] != head
    assert input_identity(str(late))["head"] == head
    assert input_identity(str(late))["size"] == len(body)


def test_open_input_reads_a_file_and_decompresses_gz(tmp_path: Path) -> None:
    """The reader gets the list's bytes whether it is plain or gzip-compressed."""
    plain, packed = tmp_path / "list.csv", tmp_path / "list.csv.gz"
    plain.write_bytes(LIST)
    packed.write_bytes(gzip.compress(LIST))
    for path in (plain, packed):
        with open_input(str(path)) as stream:
            assert stream.read() == LIST


def test_open_input_closes_the_file_it_opened(tmp_path: Path) -> None:
    """Leaving the block closes the handle (a long resume opens the list many times)."""
    (tmp_path / "list.csv").write_bytes(LIST)
    with open_input(str(tmp_path / "list.csv")) as stream:
        pass
    assert stream.closed


def test_dash_is_stdin_and_is_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """'-' reads standard input's bytes, and does not close it for the rest of the process."""
    piped = io.TextIOWrapper(io.BytesIO(LIST))
    monkeypatch.setattr(sys, "stdin", piped)
    with open_input("-") as stream:
        assert stream.read() == LIST
    assert not piped.buffer.closed


def test_a_missing_file_or_a_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    """InputError names the path and says what to pass instead."""
    with pytest.raises(InputError) as missing, open_input(str(tmp_path / "nope.csv")):
        pass
    assert str(missing.value) == (f"{tmp_path / 'nope.csv'}: no such file. Check the path, "
                                  "or pass - to read stdin.")
    with pytest.raises(InputError, match=r"is a directory\. Pass a CSV, JSONL or text file"), \
            open_input(str(tmp_path)):
        pass


@pytest.mark.parametrize(("head", "said"), [
    (b"PK\x03\x04\x14\x00workbook", "Excel .xlsx workbook"),
    (gzip.compress(LIST), "gzip-compressed, but its name does not end in .gz"),
    (b"%PDF-1.7\n", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel .xls"),
    ("to\n+14155550100\n".encode("utf-16"), "UTF-16 text"),
    (b"to\n+14155550100\n\x00\x01\x02binary", "line 3 holds a NUL byte"),
])
def test_a_binary_or_office_file_is_refused_naming_what_it_is(tmp_path: Path, head: bytes,
                                                              said: str) -> None:
    """A workbook, an archive, a PDF, UTF-16 or binary data stops before any record is read,
    saying what the file is and what to pass instead; a real list still opens."""
    path = tmp_path / "list.csv"
    path.write_bytes(head)
    with pytest.raises(InputError, match=said) as caught, open_input(str(path)):
        pass
    assert str(path) in str(caught.value)
    path.write_bytes(LIST)
    with open_input(str(path)) as handle:
        assert handle.read() == LIST
