"""What a run that stopped mid-way tells its user to do next, worded once for every place that
stops one (journal, spill, body spool). Its own module so that ``a2p plan``, which loads only
the reading side, can word a full disk without loading the journal."""

from __future__ import annotations

import os


def finish_advice(journal: str | os.PathLike[str] | None) -> str:
    """What to do after a run stopped mid-way (a full disk): with a journal, resume it, never
    the same command again, which would text the batches already sent a second time."""
    if journal is None:
        return ("this run kept no journal, so it cannot be resumed: its report names the "
                "batches already sent; send only the recipients they do not hold, never the "
                "whole list again (those sent would be texted twice)")
    return (f"finish the run with a2p send --resume {os.fspath(journal)}, which sends only what "
            "is not sent yet (not the same command again: the batches already sent would be "
            "texted twice)")
