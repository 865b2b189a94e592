"""The outcomes file: CSV (opens in a spreadsheet, and 'a2p send' reads it back) or JSON lines,
written to ``PATH.part`` with a checkpoint beside it (``PATH.progress``) at every chunk, so an
interrupted export goes on where it stopped; renamed to ``PATH`` when complete."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from engine.results.export import Checkpoint
from engine.results.rows import COLUMNS, Row
from engine.run.replacing import replace_file

FORMATS = ("csv", "jsonl")


def format_for(path: str, given: str | None) -> str:
    """``--format`` when given, else JSONL for a path ending in .jsonl, else CSV."""
    if given:
        return given
    return "jsonl" if path.endswith(".jsonl") else "csv"


Extra = Sequence[str] | bool  # the columns after COLUMNS (Export.extra_columns); True: text


def _extra(extra: Extra) -> tuple[str, ...]:
    return ("text",) * extra if isinstance(extra, bool) else tuple(extra)


def row_values(row: Row, extra: Extra) -> list[Any]:
    values: list[Any] = list(row[:len(COLUMNS)])
    return [*values, *(getattr(row, name) for name in _extra(extra))]


def encode_jsonl(row: Row, extra: Extra) -> bytes:
    names = (*COLUMNS, *_extra(extra))
    return orjson.dumps(dict(zip(names, row_values(row, extra), strict=True)),
                        option=orjson.OPT_APPEND_NEWLINE)


class _CsvEncoder:
    def __init__(self, extra: Extra) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._extra = _extra(extra)

    def header(self) -> bytes:
        return self._encode([*COLUMNS, *self._extra])

    def row(self, row: Row) -> bytes:
        values = row_values(row, self._extra)
        values[COLUMNS.index("retryable")] = "true" if row.retryable else "false"
        return self._encode(values)

    def _encode(self, values: list[Any]) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(values)
        return self._buffer.getvalue().encode()


class OutputFile:
    """Rows out to a file (resumable) or stdout ("-", not resumable)."""

    def __init__(self, path: str, fmt: str, extra: Extra, key: dict[str, Any],
                 stdout: BinaryIO | None = None) -> None:
        """``extra``: the columns after COLUMNS (Export.extra_columns); ``stdout``: where
        "-" writes (the CLI passes its own; the library prints nothing)."""
        self.path = path
        self._csv = _CsvEncoder(extra) if fmt == "csv" else None
        self._extra = _extra(extra)
        self._key = key
        self._part = Path(path + ".part")
        self._progress = Path(path + ".progress")
        self._out: BinaryIO = stdout if stdout is not None else io.BytesIO()
        self.resumed = False

    def open(self) -> Checkpoint | None:
        """Start the file, or reopen an interrupted one of the same export and say where it
        stopped."""
        if self.path == "-":
            self._header()
            return None
        saved = self._saved()
        if saved is not None and self._part.exists():
            self._out = self._part.open("r+b")
            self._out.truncate(saved["bytes"])
            self._out.seek(saved["bytes"])
            self.resumed = True
            return Checkpoint.from_json(saved)
        self._out = self._part.open("wb")
        self._header()
        return None

    def _saved(self) -> dict[str, Any] | None:
        try:
            saved = orjson.loads(self._progress.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        # one without "selected" (an older a2p's) is started again: its counts would be short
        return saved if isinstance(saved, dict) and saved.get("key") == self._key and \
            "selected" in saved else None

    def _header(self) -> None:
        if self._csv is not None:
            self._out.write(self._csv.header())

    def write(self, row: Row) -> None:
        self._out.write(self._csv.row(row) if self._csv is not None
                        else encode_jsonl(row, self._extra))

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Every row so far is on disk, then the note of where to go on from."""
        if self.path == "-":
            return
        self._out.flush()
        os.fsync(self._out.fileno())
        note = {"key": self._key, "bytes": self._out.tell(), **checkpoint.as_json()}
        scratch = self._progress.with_suffix(".progress.tmp")
        scratch.write_bytes(orjson.dumps(note))
        replace_file(scratch, self._progress)

    def finish(self) -> None:
        self._out.flush()
        if self.path == "-":
            return
        self._out.close()
        replace_file(self._part, self.path)
        self._progress.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop without finishing: the part file and its checkpoint stay for a resume."""
        if self.path != "-" and not self._out.closed:
            self._out.close()
