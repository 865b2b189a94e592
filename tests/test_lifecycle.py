"""The lifecycle table: legal moves pass, an illegal one is a bug, not a run failure."""

from __future__ import annotations

import pytest

from engine.core import lifecycle
from engine.errors import EngineError, IllegalTransition
from engine.run.report import ChunkRecord


def test_a_chunk_follows_the_table_to_completed() -> None:
    """planned → submitting → accepted → completed is allowed step by step."""
    record = ChunkRecord(1, 0, 9, 10, 100)
    for state in (lifecycle.SUBMITTING, lifecycle.ACCEPTED, lifecycle.COMPLETED):
        record.move(state)
    assert record.state == lifecycle.COMPLETED


def test_an_illegal_transition_is_a_runtime_error_that_no_engine_handler_swallows() -> None:
    """Moving an accepted chunk back to submitting would resend it: the engine refuses, and
    the error is a RuntimeError, not an EngineError a caller would treat as a server fault."""
    record = ChunkRecord(1, 0, 9, 10, 100, state=lifecycle.ACCEPTED)
    with pytest.raises(IllegalTransition, match="accepted to submitting") as info:
        record.move(lifecycle.SUBMITTING)
    assert isinstance(info.value, RuntimeError)
    assert not isinstance(info.value, EngineError)
    assert record.state == lifecycle.ACCEPTED


def test_final_states_have_no_way_out() -> None:
    """Failed, unknown, split, completed and superseded end a chunk's story."""
    assert {lifecycle.FAILED, lifecycle.UNKNOWN, lifecycle.SPLIT, lifecycle.COMPLETED,
            lifecycle.SUPERSEDED} == lifecycle.FINAL
    for state in lifecycle.FINAL:
        for other in lifecycle.TRANSITIONS:
            with pytest.raises(IllegalTransition):
                lifecycle.advance(state, other)


def test_only_a_chunk_never_sent_can_be_superseded() -> None:
    """A resumed run may replace a planned or failed chunk with new ones, never a chunk that
    may have gone out (submitting, ambiguous, accepted, unknown, completed)."""
    assert lifecycle.supersede(lifecycle.PLANNED) == lifecycle.SUPERSEDED
    assert lifecycle.supersede(lifecycle.FAILED) == lifecycle.SUPERSEDED
    for state in (lifecycle.SUBMITTING, lifecycle.AMBIGUOUS, lifecycle.ACCEPTED,
                  lifecycle.UNKNOWN, lifecycle.COMPLETED, lifecycle.SPLIT,
                  lifecycle.SUPERSEDED):
        with pytest.raises(IllegalTransition):
            lifecycle.supersede(state)
