"""The public surface: one import path, a sorted __all__, every name importable."""

import engine


def test_all_is_sorted_and_resolves() -> None:
    """engine.__all__ is sorted and each name in it exists."""
    assert engine.__all__ == sorted(engine.__all__)
    assert all(hasattr(engine, name) for name in engine.__all__)


def test_errors_share_one_root() -> None:
    """Every exported exception derives from EngineError."""
    errors = [getattr(engine, n) for n in engine.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, engine.EngineError) for e in errors)
