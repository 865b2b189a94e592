"""Renaming a finished file over its target, on every platform.

``os.replace`` is atomic on POSIX and Windows alike, but Windows refuses it (PermissionError)
while another program holds the target open without sharing delete: a spreadsheet showing
the outcomes CSV, an editor, a virus scanner or indexer reading the new file for a moment.
The passing readers are waited out: a few tries over about three seconds; a program that
keeps the file open gets an error that says what to do. POSIX replaces an open file at once
(its readers keep the old one), so there it is ``os.replace`` and nothing more. ``WINDOWS``
picks the behaviour: a test sets it True to run the Windows path on Linux (docs/windows.md).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

WINDOWS = sys.platform == "win32"

TRIES = 7  # pauses of 0.05, 0.1, 0.2, 0.4, 0.8, 1 and 1 s between them: 3.55 s in all
_FIRST_PAUSE, _LONGEST_PAUSE = 0.05, 1.0

PathLike = str | os.PathLike[str]

_replace = os.replace  # the seam a test makes fail as Windows does


_ADVICE = "close it there and run the same command again"


def replace_file(source: PathLike, target: PathLike, *, tries: int = TRIES,
                 sleep: Callable[[float], object] = time.sleep, advice: str = _ADVICE
                 ) -> None:
    """``os.replace(source, target)``; on Windows tried again while the target is held open
    (``tries`` in all: 1 for a file written again in a few seconds anyway), then a
    PermissionError naming the file and the way out (``advice``). ``source`` stays for the
    caller to remove when it fails."""
    if not WINDOWS:
        _replace(source, target)
        return
    pause = _FIRST_PAUSE
    for attempt in range(1, tries + 1):
        try:
            _replace(source, target)
            return
        except PermissionError as exc:
            if attempt >= tries:
                raise PermissionError(
                    exc.errno, f"{target} is open in another program (a spreadsheet, an "
                    f"editor) that keeps it from being replaced; {advice} "
                    f"({exc.strerror})") from exc
        sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
