"""``--metrics PATH`` (``metrics=`` in the library): the run's counters in Prometheus's text
exposition format, for a node exporter's textfile collector, so a scheduler can alert on a
stuck or failing run without parsing text.

The file is written whole to a temporary file beside it and renamed over it (a reader never
sees half of one), before the run's sign-in, every ``every`` seconds of the run's clock while
it sends, and once more when it ends: after the report (``a2p_finished 1``), or when it ends
in an error (``a2p_failed 1`` too), so an ended run is never taken for a stuck one. What it
holds is the run's own state (the recorder's records and counts, the client's rate budgets),
so a resumed run's figures include what the runs before it did. The file's mode is the one
``open()`` gives (0666 less the umask, as the report's): a node exporter running as its own
user reads it. Counters are written exactly (an integer as itself, never rounded).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from glob import escape as glob_escape
from pathlib import Path

import anyio

from engine.core import lifecycle
from engine.rc.client import ApiClient
from engine.run.options import ReadProgress
from engine.run.recorder import Recorder
from engine.run.replacing import TRIES, replace_file

log = logging.getLogger("engine.metrics")
EVERY = 5.0  # seconds between writes while the run goes on
PathLike = str | os.PathLike[str]
# every state a batch can be in, so each series exists (at 0) from the first write
# a temporary file a killed writer left (never one being written: that is younger than this)
STALE_AFTER = 600.0
_BINARY = getattr(os, "O_BINARY", 0)
_ADVICE = ("close it there; the file is written again at the next update, and after the run "
           "ends it keeps its last figures")
STATES = (lifecycle.PLANNED, lifecycle.SUBMITTING, lifecycle.ACCEPTED, lifecycle.AMBIGUOUS,
          lifecycle.SPLIT, lifecycle.FAILED, lifecycle.UNKNOWN, lifecycle.COMPLETED,
          lifecycle.SUPERSEDED)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """A sample's value exactly: an int as its digits (1234567, never 1.23457e+06), a float
    by ``repr`` (the shortest text that reads back as the same float), the infinities and
    NaN as the exposition format spells them."""
    if isinstance(value, int):
        return str(int(value))  # a bool too, as 0 or 1
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Metrics:
    """One run's metrics file: counters fed by the run's hooks, the rest read at each write."""

    def __init__(self, path: PathLike, run_id: str, recorder: Recorder, client: ApiClient,
                 every: float | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.recorder = recorder
        self.client = client
        self.every = EVERY if every is None else every
        self.read = 0
        self.finished = False
        self.failed = False  # the run ended in an error
        self.unwritable = False  # a write failed: said once
        self.swept = False  # the temporary files killed writers left: removed once

    def reading(self, records: int, share: float | None) -> None:
        """The sender's read progress (the ``on_read`` hook's arguments)."""
        self.read = max(self.read, records)

    def render(self) -> str:
        """The exposition text of the run as it is now."""
        aggregator = self.recorder.aggregator
        states = Counter(record.state for record in self.recorder.records.values())
        labels = f'run_id="{_escape(self.run_id)}"'
        lines: list[str] = []

        def metric(name: str, kind: str, text: str,
                   samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP a2p_{name} {text}")
            lines.append(f"# TYPE a2p_{name} {kind}")
            for extra, value in samples:
                inner = labels + (f",{extra}" if extra else "")
                lines.append(f"a2p_{name}{{{inner}}} {_number(value)}")

        read = max(self.read, aggregator.records)
        metric("records_read_total", "counter", "Recipients read from the input so far.",
               [("", read)])
        metric("sent_total", "counter", "Recipients in batches the server accepted.",
               [("", aggregator.sent)])
        metric("rejected_total", "counter", "Recipients that will not be sent, by source "
               "(local: found bad while reading; server: refused in a batch answer).",
               [('source="local"', aggregator.rejected_local),
                ('source="server"', aggregator.rejected_server)])
        metric("batches", "gauge", "The run's chunks by state.",
               [(f'state="{state}"', states.get(state, 0)) for state in STATES])
        metric("rate_budget_left", "gauge", "Requests that may start now in each API rate "
               "group.", [('group="light"', self.client.light.left()),
                          ('group="auth"', self.client.auth.left())])
        metric("waited_seconds_total", "counter", "Seconds requests waited for a rate budget.",
               [('group="light"', self.client.light.waited),
                ('group="auth"', self.client.auth.waited)])
        metric("requests_total", "counter", "API requests answered.",
               [("", self.client.requests)])
        metric("throttled_total", "counter", "Answers that were 429 (rate limited).",
               [("", self.client.throttled)])
        metric("finished", "gauge", "1 once the run has ended (its report written, or "
               "a2p_failed 1).", [("", 1 if self.finished else 0)])
        metric("failed", "gauge", "1 when the run ended in an error, or was ended at once "
               "(a second Ctrl-C) without its report.", [("", 1 if self.failed else 0)])
        return "\n".join(lines) + "\n"

    def write(self, final: bool = False) -> None:
        """The file replaced at once by the current figures (``final``: the last write, tried
        as long as a report's, where a passing reader holds it on Windows). A file that
        cannot be written (no such folder, a full disk) never stops the sending: said once,
        on the log."""
        if not self.swept:
            self.swept = True
            _sweep(self.path)
        try:
            _replace(self.path, self.render(), tries=TRIES if final else 1)
        except OSError as exc:
            if not self.unwritable:
                log.warning("--metrics %s: cannot write the metrics file (%s); the run goes "
                            "on without it", self.path, exc)
            self.unwritable = True

    async def _every(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        while True:
            self.write()
            await sleep(self.every)

    async def beside(self, work: Awaitable[bool],
                     sleep: Callable[[float], Awaitable[None]]) -> bool:
        """``work``'s result, the file written now and every ``every`` seconds meanwhile
        (an error comes out in an ExceptionGroup, as from the run's own task groups)."""
        result = False

        async def run() -> None:
            nonlocal result
            result = await work
            group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(self._every, sleep)
            group.start_soon(run)
        return result

    def close(self, finished: bool = True, failed: bool = False) -> None:
        """The last write: the run is over (its report written), or ``failed`` (it ended in
        an error: finished too); ``finished`` False for a scheduled send's round that ended
        well (engine/run/rounds.py marks the file after the last)."""
        self.finished = finished or failed
        self.failed = failed
        self.write(final=True)


def mark_finished(path: PathLike) -> None:
    """A scheduled send's file, written by its last round, marked finished (atomically)."""
    target = Path(path)
    # none (no round got as far as sending), or one that cannot be written (said already)
    with contextlib.suppress(OSError):
        text = target.read_text(encoding="utf-8")
        _replace(target, re.sub(r"^(a2p_finished\{[^}]*\}) 0$", r"\1 1", text, flags=re.M),
                 tries=TRIES)


def _replace(target: Path, text: str, tries: int) -> None:
    """``text`` written beside ``target`` and renamed over it: a reader never sees half. The
    temporary file is made as open() makes one (0666 less the umask), not mkstemp's 0600,
    so the file renamed over the target is readable by whom the umask allows."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:  # LF on Windows too
            out.write(text)
        replace_file(temporary, target, tries=tries, advice=_ADVICE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _sweep(target: Path) -> None:
    """The temporary files a writer killed mid-write left beside ``target`` (the collector
    skips them, but nothing else would remove them), removed when older than STALE_AFTER:
    a younger one may be another writer's, being written."""
    now = time.time()
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                if now - leftover.stat().st_mtime > STALE_AFTER:
                    leftover.unlink()


def on_read(hook: ReadProgress | None, metrics: Metrics | None, held: int = 0
            ) -> ReadProgress | None:
    """The sender's read hook: the caller's, and the metrics' when a file is asked for. The
    sender counts what this run reads (its chunks, and the local rejections, which a resume
    restores), and so does the caller's hook; the metrics add ``held``, the records of the
    chunks a resume keeps from the runs before, to count the whole run's."""
    if metrics is None:
        return hook
    given = hook

    def both(records: int, share: float | None) -> None:
        metrics.reading(records + held, share)
        if given is not None:
            given(records, share)

    return both
