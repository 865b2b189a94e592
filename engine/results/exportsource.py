"""What an export of outcomes reads beside the journal (engine/results/export.py): the run's
input, found where the journal says (or beside the journal when its folder moved) and refused
unless it is the very list the run read, and the settings of the server the run sent to.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.config.profiles import journal_profile
from engine.config.settings import Settings, check_journal_server, load_settings
from engine.errors import JournalError, UsageError
from engine.run.inputs import input_identity
from engine.run.journal import JournalState

__all__ = ["input_path", "journal_settings"]


def input_path(state: JournalState, given: str | os.PathLike[str] | None) -> str:
    """The run's input, refused when it is not the very list the run read."""
    recorded = state.header.get("input") or {}
    if given is None and recorded.get("kind") != "file":
        raise UsageError("the run read a stream (stdin or an iterable), so its rows cannot be "
                         "read again from the journal alone. Pass the same list with --input "
                         "PATH.")
    path = str(given) if given is not None else recorded["path"]
    if given is None and not os.path.exists(path) and state.path is not None:
        beside = state.path.parent / Path(path).name  # the campaign folder moved
        path = str(beside) if beside.is_file() else path
    if not os.path.exists(path):
        raise UsageError(f"{path}: the run's input is not there any more. Pass it with "
                         "--input PATH.")
    if recorded.get("kind") == "file":
        current = input_identity(path)
        for key in ("size", "head"):
            if current.get(key) != recorded.get(key):
                raise JournalError(f"{path} is not the list the run sent ({key} differs). "
                                   "Rows are matched by position: pass the unchanged list "
                                   "with --input PATH.")
    return path


def journal_settings(state: JournalState, config: Settings | str | None) -> Settings:
    """The settings an export reads the run's batches with: ``config`` (a Settings or a
    profile name), else the journal's profile; refused when not the server the run sent to."""
    header = state.header
    settings = config if isinstance(config, Settings) else \
        load_settings(config or journal_profile(header))
    check_journal_server(header, settings)
    return settings
