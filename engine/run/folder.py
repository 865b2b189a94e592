"""A campaign folder that moved (a list started by hand in one place, resumed by a cron job or
a pod where the volume is mounted elsewhere): the journal keeps the list's and the report's
absolute paths as they were. When the list is no longer there, the file of the same name
beside the journal is taken, if there is one; it is still the run's list only if its size and
head are the journal's, and every chunk the resume skips is checked against what the chunk
journaled (engine/run/resume.py check_matches, engine/run/inputcheck.py). The report whose
folder is gone is written beside the journal under its name.

One rule, nothing searched: the journal's folder is the campaign's, and ``--input PATH``
(``send(PATH, resume=J)``) names the list anywhere else."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import InputError


def moved(recorded: str, journal: Path) -> str:
    """The run's list: ``recorded`` while it is there, else the file of its name beside the
    journal when that exists; an InputError saying how to name it otherwise."""
    if os.path.exists(recorded):
        return recorded
    beside = journal.parent / Path(recorded).name
    if beside.is_file():
        return str(beside)
    raise InputError(f"{journal}: the run's list {recorded} is not there any more, nor "
                     f"{beside} (did the campaign folder move?). Resume with --input PATH, "
                     "the list where it is now (the library: send(PATH, resume=JOURNAL)); "
                     "it must be the very list the run read.")


def moved_report(recorded: str | None, journal: Path) -> str | None:
    """Where a resume writes the run's report: where it went, while that folder exists; else
    beside the journal under its name."""
    if recorded is None or Path(recorded).parent.is_dir():
        return recorded
    return str(journal.parent / Path(recorded).name)
