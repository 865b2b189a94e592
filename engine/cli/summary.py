"""The line a finished send (or demo) ends with, and the exit code its report calls for."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from engine.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from engine.cli.output import say


def finish(report: Mapping[str, Any], path: str, quiet: bool = False, hint: str = "") -> int:
    """Tell the totals on stderr (always when the run did not complete; ``hint`` says how to
    finish an interrupted one) and return the exit code."""
    totals = report["totals"]
    if report["interrupted"]:
        code = EXIT_INTERRUPTED
    else:
        # waiting, expired (a scheduled send): every batch reached its goal, as completed;
        # a waiting run ended here only when it was not told to exit 75
        code = EXIT_OK if report["status"] in ("completed", "waiting", "expired") \
            else EXIT_FAILED
    if code != EXIT_OK or not quiet:
        word = "interrupted" if report["interrupted"] else report["status"]
        suppressed = sum((totals.get("suppressed") or {}).values())
        opted = f" ({suppressed:,} suppressed)" if suppressed else ""
        say(f"a2p: {word}: {totals['sent']:,} sent, {totals['rejectedLocal']:,} rejected "
            f"locally{opted}, {totals['rejectedServer']:,} by the server, {totals['failedChunks']} "
            f"batches failed, {totals['unknownChunks']} unknown" + _pending(totals) +
            _left(totals) + f"; report: {path}" + _next_step(code, totals, hint))
    return code


def _next_step(code: int, totals: dict[str, Any], hint: str) -> str:
    """What to run next: the resume of an interrupted run, or of a run with failed batches
    (``--resume`` sends again only those proved never created)."""
    if not hint:
        return ""
    if code == EXIT_INTERRUPTED:
        return f". {hint}"
    command = hint.removeprefix("To finish the run: ")
    if code != EXIT_FAILED or not totals["failedChunks"] or command == hint:
        return ""
    journal = shlex.split(command)[-1]
    return (". Batches that failed without creating anything are sent again, once the cause "
            f"is fixed, by: {command}; every recipient's fate: "
            f"{shlex.join(['a2p', 'outcomes', journal])}")


def _left(totals: dict[str, Any]) -> str:
    """A scheduled send's recipients not sent: expired (--expire-at passed: the run has
    ended), with no window under the policy (never sent by this run), or left for later
    rounds."""
    expired = totals.get("expired") or 0
    never = totals.get("noWindow") or 0
    later = (totals.get("deferred") or 0) + (totals.get("dailyCap") or 0)
    return (f", {expired:,} expired (--expire-at passed: not sent, the run has ended)"
            if expired else "") + \
        (f", {never:,} with no window under the quiet-hours policy (not sent)"
         if never else "") + (f", {later:,} left for later rounds" if later else "")


def _pending(totals: dict[str, Any]) -> str:
    """Recipients whose fate the lagging message store did not tell yet, and what to do."""
    pending = totals.get("pending") or 0
    if not pending:
        return ""
    return (f", {pending:,} pending (adopted after a lost answer; the message store did not "
            "list them yet: they may have been texted, and are not retryable. Settle them "
            "later with --resume or 'a2p outcomes')")
