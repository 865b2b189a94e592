"""What a settings field allows, said where the field is declared.

A settings dataclass (the retry ``Rules``, the profile's sections, the simulator's faults) marks
each number with ``field(..., metadata=bounds(low, high))`` and a text with ``choices``;
engine/config/table.py reads every field by its type and checks these, so a new setting is one
field and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping


def bounds(low: float, high: float | None = None) -> Mapping[str, float | None]:
    """The range a number must fall in (``high`` None: no upper bound).

    >>> bounds(1, 100)
    {'low': 1, 'high': 100}
    """
    return {"low": low, "high": high}
