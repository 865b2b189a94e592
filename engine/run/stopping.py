"""How a run's awaits end: a stop heard while the opt-outs are read (the run ends
interrupted, never as a ConsentError), and an error out of the run's task groups raised as
itself rather than inside an ExceptionGroup (engine/run/onerun.py uses both).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from typing import Any

import anyio

from engine.errors import StoppedError
from engine.rc.ratebudget import unless_stopped
from engine.run.consent import Consents

__all__ = ["ReadStopped", "consents_unless_stopped", "lone"]


class ReadStopped(Exception):  # not an error: how a stop during the opt-outs' read ends
    """The run was stopped while its opt-outs were read: nothing was sent after it."""


async def consents_unless_stopped(stopping: anyio.Event, read: Awaitable[Consents]) -> Consents:
    """The opt-outs ``read`` gives, unless the run is stopped first: a read can take minutes
    (a search of 1,000 pages), and a Ctrl-C during it ends the run interrupted (its report,
    exit 130), never as a ConsentError, so the read is cancelled and ReadStopped raised."""
    got: list[Consents] = []

    async def reading() -> None:
        got.append(await read)

    try:
        finished = await unless_stopped(stopping, reading)
    except StoppedError:  # a request of the read heard the stop
        if not stopping.is_set():
            raise
        finished = False
    if not finished:
        raise ReadStopped
    return got[0]


async def lone(work: Awaitable[bool]) -> bool:
    """The run's task groups wrap what they raise in an ExceptionGroup; a single error comes
    back as itself, so callers catch ``EngineError`` (or their own exception) as usual."""
    try:
        return await work
    except BaseExceptionGroup as group:
        # one error met by several tasks (a token endpoint that failed) is raised once
        leaves = list({id(leaf): leaf for leaf in _leaves(group)}.values())
        if len(leaves) == 1:
            raise leaves[0] from leaves[0].__cause__
        raise


def _leaves(group: BaseExceptionGroup[Any]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc
