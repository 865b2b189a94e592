"""``--suppress FILE``: reading suppression lists (a do-not-contact list, a CRM's opt-outs)
into the compact set the reader checks each record against (engine/reading/suppressed.py),
and reading them again for a resume or 'a2p outcomes', refused when they changed.

A suppression file is read by the list reader itself, with the list's --default-country: one
number a line, a CSV with a number column (the list's --to-column, else the first column
named like a phone number: phone, mobile, number, to...), or JSON lines with "to". A bad
number in it is an error naming the file and line: a suppression list that silently lost a
number would text someone who asked not to be.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.core.rejections import Rejection
from engine.errors import InputError, JournalError
from engine.reading import ReadOptions, read_lines
from engine.reading.dialect import DELIMITERS
from engine.reading.lines import detect_format
from engine.reading.linesource import MAX_LINE_BYTES
from engine.reading.records import number_checker
from engine.reading.suppressed import Suppressed, SuppressedBuilder, SuppressionSource
from engine.run.inputs import open_input

SuppressSpec = str | os.PathLike[str] | Iterable[str]
# header names that hold the numbers of a suppression CSV, when not the list's --to-column
_NUMBER_COLUMN = re.compile(r"phone|mobile|cell|number|msisdn|\bto\b|recipient", re.I)


def load(given: Iterable[SuppressSpec], options: ReadOptions) -> Suppressed | None:
    """The set of every number the suppression files (paths) or iterables of numbers list;
    None when none is given. ``options``: the list's, for its country rules."""
    builder = SuppressedBuilder()
    count = 0
    for spec in given:
        count += 1
        if isinstance(spec, (str, os.PathLike)):
            _read_file(builder, os.fspath(spec), options)
        else:
            _read_numbers(builder, spec, options, count)
    return builder.build() if count else None


def empty_sources(suppressed: Suppressed | None) -> list[str]:
    """A warning for each suppression list that holds no number (a header alone, an empty
    file): most likely an export that failed, and a run that suppresses nobody by it."""
    if suppressed is None:
        return []
    return [f"--suppress {source.path} holds no numbers (a header alone, or nothing): a "
            "failed export? It suppresses nobody. If it should list opt-outs, stop, fix it "
            "and send again (or a2p plan --suppress it first)"
            for source in suppressed.sources if source.numbers == 0]


def _read_file(builder: SuppressedBuilder, path: str, options: ReadOptions) -> None:
    if path == "-":
        raise InputError("--suppress -: a suppression list must be a file (a resume reads it "
                         "again to prove it unchanged); save it and pass its path.")
    if not os.path.isfile(path):
        raise InputError(f"--suppress {path}: no such file. Check the path; a suppression list "
                         "is a file of numbers, one a line or a CSV column of them.")
    builder.start_file(path)
    read = _file_options(path, options)

    def refuse(rejection: Rejection) -> None:
        where = f"line {rejection.line}" if rejection.line is not None \
            else f"record {rejection.index + 1}"
        raise InputError(
            f"{path}, {where}: {rejection.to!r} is not a number this run can read "
            f"({rejection.description}). A suppression list holds only numbers (one a line, "
            "or a column of them): fix or delete that line, then run again; no number of "
            "the list is skipped.")

    with open_input(path) as stream:
        for block in read_lines(stream, read, refuse):
            lines = block.lines if block.lines is not None else range(1, len(block) + 1)
            builder.add_block(block.tos, lines)
    info = os.stat(path)
    builder.end_file({"absolute": os.path.abspath(path), "size": info.st_size,
                      "mtimeNs": info.st_mtime_ns})


def _read_numbers(builder: SuppressedBuilder, numbers: Iterable[str], options: ReadOptions,
                  which: int) -> None:
    """An iterable of numbers (the library's ``suppress=[[...]]``): each checked as a list's."""
    name = f"<suppress {which}>"
    builder.start_file(name)
    check = number_checker(options)
    for line, raw in enumerate(numbers, 1):
        number = check(str(raw).strip())
        if not isinstance(number, str):
            raise InputError(f"{name}, item {line}: {raw!r} is not a number this run can read "
                             f"({number.message}); fix or drop it: no number of a suppression "
                             "list is skipped.")
        builder.add(number, line)
    builder.end_file()


def read_numbers(path: str, options: ReadOptions, rejected: Callable[[Rejection], None]
                 ) -> Iterator[tuple[list[str], Iterable[int]]]:
    """A file shaped like a suppression list (``a2p optouts push`` reads one) as --suppress
    reads it: (E.164 numbers, their lines) a block at a time; each line that holds no
    readable number goes to ``rejected`` (its line and why), and reading goes on."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file. Give a file of numbers, one a line or a CSV "
                         "with a number column (to, phone, mobile...).")
    read = _file_options(path, options)
    with open_input(path) as stream:
        for block in read_lines(stream, read, rejected):
            yield block.tos, block.lines if block.lines is not None else \
                range(1, len(block) + 1)


def _file_options(path: str, options: ReadOptions) -> ReadOptions:
    """How to read one suppression file: its own format and number column, the list's
    country rules and encoding, a placeholder text so no record wants one."""
    with open_input(path) as stream:
        head = stream.readline(MAX_LINE_BYTES + 1).decode(options.encoding, "replace") \
            .lstrip("\ufeff")
    fmt, column, first = detect_format(path, head, options.to_column), options.to_column, \
        head.strip()
    if fmt != "jsonl":  # a first line that is a number: no header, whatever the suffix
        is_number = not first or isinstance(number_checker(options)(first), str)
        fmt = "lines" if is_number else "csv"
        if not is_number:
            column = _number_column(path, head, options.to_column)
    return ReadOptions(source=path, format=fmt, to_column=column, text_column="\x00",
                       batch_text="-", encoding=options.encoding,
                       default_country=options.default_country,
                       north_american_only=options.north_american_only)


def _number_column(path: str, header: str, to_column: str) -> str:
    """The header's number column: the list's --to-column, else the one named like a number
    (phone, mobile, number...), else the only column."""
    for delimiter in DELIMITERS:
        rows = list(csv.reader([header.rstrip("\r\n")], delimiter=delimiter))
        names = [name.strip() for name in rows[0]] if rows else []
        if to_column in names:
            return to_column
        if len(names) > 1:
            like = [name for name in names if _NUMBER_COLUMN.search(name)]
            if like:
                return like[0]
    rows = list(csv.reader([header.rstrip("\r\n")]))
    if rows and len(rows[0]) == 1 and _NUMBER_COLUMN.search(rows[0][0]):
        return rows[0][0].strip()
    raise InputError(f"{path}, line 1: {header.strip()[:64]!r} is neither a number nor a header "
                     "with a number column (to, phone, mobile, number...). A suppression list "
                     "holds one number a line, or a CSV whose header names its number column.")


def reloaded(read: dict[str, Any], options: ReadOptions, journal: Path) -> ReadOptions:
    """``options`` with the suppression lists a journal's ``read`` header recorded, read
    again: refused when one is gone or lists other numbers than when the run began (a resume
    must judge the rest of the list as the run judged the start, and 'a2p outcomes' must
    rebuild the run's decisions). A journal without them (older, or a run without
    --suppress) reads none."""
    recorded = read.get("suppress") or []
    if not recorded:
        return options
    paths = [entry.get("absolute") or entry["path"] for entry in recorded]
    for entry, path in zip(recorded, paths, strict=True):
        if "absolute" not in entry:
            raise JournalError(
                f"{journal}: the run was given the suppression list {entry['path']} as numbers "
                "in memory, which a journal cannot give again. Finish such runs without "
                "resuming, or give suppression lists as files.")
        if not os.path.exists(path):
            raise JournalError(
                f"{journal}: the run read the suppression list {entry['path']} ({path}), which "
                "is gone. Put it back as it was, then run this again: without it the rest of "
                "the list cannot be judged as the run judged its start.")
    again = load(paths, options)
    assert again is not None
    for entry, source in zip(recorded, again.sources, strict=True):
        if source.digest != entry.get("digest"):
            raise JournalError(_changed(journal, entry, source))
    # the names as the run gave them, so descriptions read as they did
    return replace(options, suppress=again.renamed([entry["path"] for entry in recorded]))


def _changed(journal: Path, entry: dict[str, Any], now: SuppressionSource) -> str:
    """What changed in a suppression list since the run began, and what to do."""
    return (
        f"{journal}: the suppression list {entry['path']} changed since the run began: it "
        f"listed {entry.get('numbers', 0):,} numbers ({entry.get('size', 0):,} bytes) and now "
        f"lists {now.numbers:,} ({now.stat.get('size', 0):,} bytes), not the same numbers. "
        "A resume judges the rest of the list as the run judged its start, and 'a2p outcomes' "
        "rebuilds the run's decisions from the list, so it must be the one "
        "the run read. Put the file back as it was and run this again. To honour the "
        "opt-outs added since before the rest is sent, put the old file back, write what "
        f"the run has not sent (a2p outcomes {journal} --only not-sent --out rest.csv) and "
        "send rest.csv as a new run with the new list.")
