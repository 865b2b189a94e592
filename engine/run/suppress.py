"""``--suppress FILE``: reading suppression lists (a do-not-contact list, a CRM's opt-outs)
into the compact set the reader checks each record against (engine/reading/suppressed.py),
and reading them again for a resume or 'a2p outcomes', refused when they changed.

A suppression file is read by the list reader itself, with the list's --default-country: one
number a line, a CSV with a number column, or JSON lines with "to". A CSV's column is the
list's --to-column, else the one column named with a phone word (to, phone, mobile, cell,
msisdn, recipient), else the one named "number" (a CRM's account_number is no phone number
when a phone column is beside it); two columns of the best kind, and none named, are refused
(``_number_column``). Which column of which file was read is logged (engine.suppress, shown
unless -q). A bad number in it is an error naming the file and line: a suppression list that
silently lost a number would text someone who asked not to be.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from engine.core.rejections import EMPTY_TO, NOT_NORTH_AMERICAN, Rejection
from engine.errors import InputError
from engine.reading import ReadOptions, read_lines
from engine.reading.dialect import DELIMITERS
from engine.reading.lines import detect_format
from engine.reading.linesource import MAX_LINE_BYTES
from engine.reading.records import number_checker
from engine.reading.suppressed import Suppressed, SuppressedBuilder
from engine.run.inputs import open_input

SuppressSpec = str | os.PathLike[str] | Iterable[str]
log = logging.getLogger("engine.suppress")
# the words of a header name (split at anything not a letter or digit, and at a lower-case
# letter followed by a capital: PhoneNumber is phone, number)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# a word that names a phone number: within it (telephone, cellphone, phonenumber) or whole
_PHONE_IN = ("phone", "mobile", "msisdn", "recipient")
_PHONE_WORDS = frozenset({"to", "cell", "cellular", "tel"})


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


def load_unless(paths: Sequence[str], options: ReadOptions, known: Suppressed
                ) -> Suppressed | None:
    """The numbers of the files at ``paths`` that ``known`` lacks (what a living list gained
    since a run read it), each at its file's line; None when no path is given."""
    builder = SuppressedBuilder()
    for path in paths:
        _read_file(builder, path, options, known)
    return builder.build() if paths else None


def empty_sources(suppressed: Suppressed | None) -> list[str]:
    """A warning for each suppression list that holds no number (a header alone, an empty
    file): most likely an export that failed, and a run that suppresses nobody by it."""
    if suppressed is None:
        return []
    return [f"--suppress {source.path} holds no numbers (a header alone, or nothing): a "
            "failed export? It suppresses nobody. If it should list opt-outs, stop, fix it "
            "and send again (or a2p plan --suppress it first)"
            for source in suppressed.sources if source.numbers == 0]


def _read_file(builder: SuppressedBuilder, path: str, options: ReadOptions,
               unless: Suppressed | None = None) -> None:
    """One file into ``builder`` (without the numbers ``unless`` holds)."""
    if path == "-":
        raise InputError("--suppress -: a suppression list must be a file (a resume reads it "
                         "again to prove it unchanged); save it and pass its path.")
    if not os.path.isfile(path):
        raise InputError(f"--suppress {path}: no such file. Check the path; a suppression list "
                         "is a file of numbers, one a line or a CSV column of them.")
    builder.start_file(path)
    read = _file_options(path, options)

    bad = _Unreadable(path)
    _said(f"--suppress {path}", read)
    for tos, lines in _blocks(path, read, bad.add):
        if unless is not None:
            hits = set(unless.hits(tos))
            keep = [k for k in range(len(tos)) if k not in hits]
            tos, lines = [tos[k] for k in keep], [lines[k] for k in keep]
            if not tos:
                continue
        builder.add_block(tos, lines)
    bad.settle()
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
    _said(path, read)
    yield from _blocks(path, read, rejected)


class _Unreadable:
    """The lines of a suppression file that give no number. A blank cell (a DNC export's
    empty row) names nobody: skipped, counted in a warning; so is a number outside North
    America, which no recipient of a +1 list can be. Any other is refused, but only once the
    whole file is read, naming the first of them and how many there are: fixed in one go,
    never one rerun a line; no number of the list is ever skipped."""

    SHOWN = 10

    def __init__(self, path: str) -> None:
        self.path = path
        self.blank = self.foreign = 0
        self.refused: list[Rejection] = []
        self.count = 0

    def add(self, rejection: Rejection) -> None:
        if rejection.error_code == EMPTY_TO:
            self.blank += 1
        elif rejection.error_code == NOT_NORTH_AMERICAN:
            self.foreign += 1
        else:
            self.count += 1
            if len(self.refused) < self.SHOWN:
                self.refused.append(rejection)

    def settle(self) -> None:
        if self.blank:
            log.warning("--suppress %s: %d line(s) without a number (blank) were skipped",
                        self.path, self.blank)
        if self.foreign:
            log.warning("--suppress %s: %d number(s) outside North America were skipped: no "
                        "recipient of a list of +1 numbers can be one", self.path,
                        self.foreign)
        if not self.refused:
            return
        shown = "; ".join(f"{_where(r)}: {r.to!r} ({r.description})" for r in self.refused)
        more = f" (the first {len(self.refused)} of {self.count:,})" if \
            self.count > len(self.refused) else ""
        raise InputError(
            f"{self.path}: {self.count:,} line(s) hold no number this run can read{more}: "
            f"{shown}. A suppression list holds only numbers (one a line, or a column of "
            "them): fix or delete those lines, then run again; no number of the list is "
            "skipped.")


def _where(rejection: Rejection) -> str:
    return f"line {rejection.line}" if rejection.line is not None \
        else f"record {rejection.index + 1}"


def _said(name: str, read: ReadOptions) -> None:
    """Which column of the file the numbers come from, said whatever it is: a CSV with
    several number-like columns must show which one was taken."""
    if read.format == "csv":
        log.info('%s: numbers from column "%s"', name, read.to_column)
    elif read.format == "jsonl":
        log.info('%s: numbers from the "%s" field of each JSON line', name, read.to_column)


def _blocks(path: str, read: ReadOptions, rejected: Callable[[Rejection], None]
            ) -> Iterator[tuple[list[str], Sequence[int]]]:
    """The one loop over a suppression file: (E.164 numbers, their lines) a block at a
    time, each unreadable line to ``rejected`` (which may raise: --suppress refuses it)."""
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
    """The header's number column: ``to_column`` (the list's --to-column), else the one
    named with a phone word (``_rank`` 2), else the one named "number" (rank 1), else the
    only column. Two columns of the best rank are refused: which holds the phone numbers
    is not the engine's guess to make."""
    for delimiter in DELIMITERS:
        rows = list(csv.reader([header.rstrip("\r\n")], delimiter=delimiter))
        names = [name.strip() for name in rows[0]] if rows else []
        if to_column in names:
            return to_column
        if len(names) > 1:
            best = max(map(_rank, names))
            like = [name for name in names if best and _rank(name) == best]
            if len(like) > 1:
                shown = ", ".join(f'"{name}"' for name in like)
                raise InputError(
                    f"{path}, line 1: the columns {shown} all look like phone numbers, and "
                    f"--to-column names none of them (it says {to_column!r}). Say which one "
                    "holds the numbers never to text: --to-column NAME (the list's number "
                    "column is read by that name too), or keep that column alone in the "
                    "file (one number a line).")
            if like:
                return like[0]
    rows = list(csv.reader([header.rstrip("\r\n")]))
    if rows and len(rows[0]) == 1 and _rank(rows[0][0]):
        return rows[0][0].strip()
    raise InputError(f"{path}, line 1: {header.strip()[:64]!r} is neither a number nor a header "
                     "with a number column (to, phone, mobile, number...). A suppression list "
                     "holds one number a line, or a CSV whose header names its number column.")


def _rank(name: str) -> int:
    """How surely a header name holds phone numbers: 2 for a phone word (to, phone, mobile,
    cell, msisdn, recipient; Phone Number too), 1 for a bare "number" (account_number),
    0 for none.

    >>> [_rank(n) for n in ("Phone Number", "account_number", "cancelled", "send_to")]
    [2, 1, 0, 2]
    """
    words = [word.lower() for word in _WORDS.findall(name)]
    if any(w in _PHONE_WORDS or any(p in w for p in _PHONE_IN) for w in words):
        return 2
    return 1 if any("number" in w for w in words) else 0
