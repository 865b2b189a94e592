"""Reading a profile's tables by the types of the dataclasses they fill.

A settings dataclass (the retry policy's ``Rules``, the profile's sections, the simulator's
faults) is the one description of its keys: each field is read by its type (a number, a flag,
a text, a list, an optional number, a nested section), numbers checked against the field's
``bounds`` metadata (engine/core/bounds.py; a field named ``*_rate`` is a probability, 0 to 1),
texts against its ``choices``. An error names the file, the section and key, and the fix; a key
no field reads is refused, so a typo never falls back to a default silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from engine.errors import ConfigError

N = TypeVar("N", int, float)
D = TypeVar("D")


class Table:
    """One TOML table being validated: typed getters that name the file and the key on error."""

    def __init__(self, source: str, prefix: str, data: Mapping[str, Any]) -> None:
        self._source = source
        self._prefix = prefix
        self._data = data
        self._seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def _fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self._source, self._key(key), problem, fix)

    def _raw(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        return self._data.get(key, default)

    def names(self) -> list[str]:
        """The keys this table holds (for tables keyed by data, such as phone numbers)."""
        return list(self._data)

    def table(self, key: str) -> Table:
        value = self._raw(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, f"expected a table, got {value!r}", f"Write it as [{key}].")
        return Table(self._source, f"{self._key(key)}.", value)

    def number(self, key: str, default: N, *, low: N, high: N | None = None) -> N:
        value = self._raw(key, default)
        kind = type(default)
        ok_type = isinstance(value, kind) or (kind is float and isinstance(value, int))
        allowed = f"{kind.__name__} from {low}" + (f" to {high}" if high is not None else " up")
        if isinstance(value, bool) or not ok_type:
            raise self._fail(key, f"expected a {kind.__name__}, got {value!r}", f"Use a {allowed}.")
        if value < low or (high is not None and value > high):
            raise self._fail(key, f"{value!r} is out of range", f"Use a {allowed}.")
        return kind(value)

    def optional_int(self, key: str, *, low: int) -> int | None:
        if self._data.get(key) in (None, 0):
            self._seen.add(key)
            return None
        return self.number(key, low, low=low)

    def text(self, key: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self._raw(key, default)
        if not isinstance(value, str) or (choices and value not in choices):
            fix = f"Use one of: {', '.join(choices)}." if choices else "Use a quoted string."
            raise self._fail(key, f"invalid value {value!r}", fix)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._raw(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, f"expected true or false, got {value!r}", "Use true or false.")
        return value

    def text_list(self, key: str, default: list[str]) -> tuple[str, ...]:
        value = self._raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, f"expected a list of strings, got {value!r}", 'Use ["a", "b"].')
        return tuple(value)

    def int_list(self, key: str, default: list[int]) -> tuple[int, ...]:
        value = self._raw(key, default)
        if not isinstance(value, list) or not all(type(v) is int for v in value):
            raise self._fail(key, f"expected a list of integers, got {value!r}", "Use [1, 2].")
        return tuple(value)

    def finish(self, *, ignore: tuple[str, ...] = ()) -> None:
        """Reject keys nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self._data) - self._seen - set(ignore))
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "none"
            raise self._fail(unknown[0], "unknown key", f"Allowed keys here: {allowed}.")


def read_fields(t: Table, cls: type[D], base: D | None = None) -> D:
    """Every field of the dataclass ``cls`` from the table ``t``, by its type; a key the
    table leaves out keeps its value in ``base`` (by default ``cls()``'s)."""
    defaults: Any = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    values = {spec.name: read_value(t, spec.name, hints[spec.name], getattr(defaults, spec.name),
                                     spec.metadata)
              for spec in dataclasses.fields(defaults)}
    t.finish()
    return cls(**values)


def read_value(t: Table, key: str, kind: Any, default: Any, meta: Mapping[str, Any]) -> Any:
    """One key of ``t`` as a value of type ``kind``; ``meta`` is its field's metadata."""
    if dataclasses.is_dataclass(kind):
        return read_fields(t.table(key), typing.cast(type[Any], kind), default)
    optional = _optional(kind)
    if optional is not None:  # absent or 0: None
        return t.optional_int(key, low=int(meta.get("low", 0)))
    if kind is bool:
        return t.flag(key, default)
    if kind is str:
        return t.text(key, default, tuple(meta.get("choices", ())))
    if kind == tuple[int, ...]:
        return t.int_list(key, list(default))
    if kind == tuple[str, ...]:
        return t.text_list(key, list(default))
    if kind in (int, float):
        high = meta.get("high", 1.0 if key.endswith("_rate") else None)
        return t.number(key, kind(default), low=kind(meta.get("low", 0)),
                        high=None if high is None else kind(high))
    raise TypeError(f"no reader for {key}: {kind!r}")


def _optional(kind: Any) -> Any:
    """``int`` for ``int | None``; None for any other type."""
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return None
    rest = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return rest[0] if len(rest) == 1 and rest[0] is int else None
