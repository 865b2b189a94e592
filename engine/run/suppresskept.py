"""The run's own copy of its suppression lists, ``<journal>.suppress``: what a resume and
'a2p outcomes' judge by, whatever became of the files since.

A do-not-contact file lives on after a run begins: the CRM adds tonight's STOPs, a clean-up
deletes it. A resume must judge the rest of the list as the run judged its start (the
chunks it skips are read again and compared with what was sent), and 'a2p outcomes' must
rebuild the run's decisions. So a run with a journal keeps the set it read beside it, before
the journal's header is written (engine/reading/suppressed.py ``encode``: some 8 bytes a
number, written whole to ``.part`` and renamed), and the header's digests prove a copy is
the run's own. A resume also reads the files again: the numbers they gained are handed to
the consent gate (engine/run/gate.py), which suppresses them among the recipients not yet
sent, as it does a new opt-out; numbers taken out of a file stay suppressed for the run.
A journal without a copy (an older one) reads the files, refused when they changed.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.errors import JournalError
from engine.reading import ReadOptions
from engine.reading.suppressed import Suppressed, SuppressionSource
from engine.run.journal import JournalWriteError
from engine.run.replacing import replace_file
from engine.run.suppress import load, load_unless

KEPT_SUFFIX = ".suppress"


def kept_path(journal: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(journal)}{KEPT_SUFFIX}")


def keep(journal: str | os.PathLike[str], suppressed: Suppressed | None) -> None:
    """Write the run's set beside its journal, whole or not at all (None: a copy another run
    left there is removed). Before the journal's header: a header naming lists always has its
    copy, and a copy that cannot be written stops the run before its first POST."""
    path = kept_path(journal)
    if suppressed is None:
        path.unlink(missing_ok=True)
        return
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as stream:
            for piece in suppressed.encode():
                stream.write(piece)
            stream.flush()
            os.fsync(stream.fileno())
        replace_file(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise JournalWriteError(
            f"cannot write {path}, the run's copy of its suppression lists ({exc}). Nothing "
            "was sent. Free space on the journal's volume and run the same command again.") \
            from exc


def kept(journal: str | os.PathLike[str], recorded: list[dict[str, Any]]) -> Suppressed | None:
    """The run's copy of its lists, if there, whole and the run's own (each list's digest
    the journal's header recorded); else None."""
    try:
        data = kept_path(journal).read_bytes()
        copy = Suppressed.decode(data)
    except (OSError, ValueError):
        return None
    ours = [(e.get("path"), e.get("digest")) for e in recorded]
    if [(s.path, s.digest) for s in copy.sources] != ours:
        return None
    return copy


def reloaded(read: dict[str, Any], options: ReadOptions, journal: Path) -> ReadOptions:
    """``options`` with the suppression lists a journal's ``read`` header recorded: the run's
    copy, else (an older journal) the files read again, refused when one is gone or lists
    other numbers than when the run began. A journal without lists reads none."""
    recorded = read.get("suppress") or []
    if not recorded:
        return options
    copy = kept(journal, recorded)
    if copy is not None:
        return replace(options, suppress=copy)
    for entry in recorded:
        if "absolute" not in entry:
            raise JournalError(
                f"{journal}: the run was given the suppression list {entry['path']} as numbers "
                f"in memory, and its copy of them ({kept_path(journal)}) is missing or "
                "damaged: the journal cannot give them again. Finish such runs without "
                "resuming, or give suppression lists as files.")
    paths = [entry["absolute"] for entry in recorded]
    for entry, path in zip(recorded, paths, strict=True):
        if not os.path.exists(path):
            raise JournalError(
                f"{journal}: the run read the suppression list {entry['path']} ({path}), which "
                f"is gone, and its copy {kept_path(journal)} is missing or damaged. Put the "
                "list back as it was, then run this again: without it the rest of the list "
                "cannot be judged as the run judged its start.")
    again = load(paths, options)
    assert again is not None
    for entry, source in zip(recorded, again.sources, strict=True):
        if source.digest != entry.get("digest"):
            raise JournalError(_changed(journal, entry, source))
    # the names as the run gave them, so descriptions read as they did
    return replace(options, suppress=again.renamed([entry["path"] for entry in recorded]))


def added_since(journal: Path, read: ReadOptions) -> tuple[Suppressed | None, list[str]]:
    """For a resume judging by the run's copy (``read.suppress``): the numbers the lists
    gained since the run began (for the consent gate, each with its file and line), and a
    warning for each list that gained numbers or is gone."""
    copy = read.suppress
    if copy is None or kept(journal, copy.as_header()) is None:
        return None, []  # no copy: the files were read again and proven unchanged
    notes, named, paths = [], [], []
    for source in copy.sources:
        path = source.stat.get("absolute")
        if path is None:  # numbers given in memory: only the copy holds them
            continue
        if not os.path.isfile(path):
            notes.append(f"--suppress {source.path}: the list is gone ({path}); this resume "
                         f"judges by the run's copy of what it read ({kept_path(journal)})")
            continue
        named.append(source.path)
        paths.append(path)
    gained = load_unless(paths, read, copy)
    if gained is None:
        return None, notes
    gained.renamed(named)
    notes.extend(
        f"--suppress {source.path} gained {source.numbers:,} number"
        f"{'s' if source.numbers != 1 else ''} since the run began: they are suppressed "
        "among the recipients not yet sent (LCL-OPTED-OUT, naming the file and line; those "
        "already sent stay sent). Numbers taken out of it since stay suppressed for this run "
        f"({kept_path(journal)} is what it read)" for source in gained.sources if source.numbers)
    return (gained if len(gained) else None), notes


def _changed(journal: Path, entry: dict[str, Any], now: SuppressionSource) -> str:
    """What changed in a suppression list of a journal without its copy, and what to do."""
    return (
        f"{journal}: the suppression list {entry['path']} changed since the run began: it "
        f"listed {entry.get('numbers', 0):,} numbers ({entry.get('size', 0):,} bytes) and now "
        f"lists {now.numbers:,} ({now.stat.get('size', 0):,} bytes), not the same numbers, "
        f"and the run's copy of it ({kept_path(journal)}) is missing or damaged. A resume "
        "judges the rest of the list as the run judged its start, and 'a2p outcomes' "
        "rebuilds the run's decisions from the list, so it must be the one the run read. "
        "Put the file back as it was and run this again.")
