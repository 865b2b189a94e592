"""A block's local rejections handed over at once (the reader's bulk path): ``LocalBatch``,
which makes nothing per rejection until asked, the JSON of many made by formatting, and
``LocalSink``, the reader's sink that takes one rejection or a batch
(engine/core/aggregator.py's Aggregator counts and spills them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, count

import orjson

from engine.core.rejections import Explain, Rejection, rejected_many


def describe_all(explain: Explain, tos: list[str]) -> list[str]:
    """The descriptions of local rejections of ``tos``, each what ``explain(to)`` says: in
    bulk when ``explain`` has a ``many(tos)`` (the reader's, engine/reading/records.py),
    else one call each."""
    many: Callable[[list[str]], list[str]] | None = getattr(explain, "many", None)
    return many(tos) if many is not None else list(map(explain, tos))


# ``orjson.dumps(rejection.as_json())`` of a local rejection, its fields filled in by bytes
# formatting: a block's JSON is made by C-level maps, no dict and no Python call per row.
_LOCAL_JSON = (b'{"index":%d,"line":%b,"to":%b,"errorCode":%b,"description":%b,'
               b'"batchId":null,"source":"local"}')


def local_payloads(indexes: Iterable[int], lines: Iterable[int | None], tos: Iterable[str],
                   codes: Iterable[str], descriptions: Iterable[str]) -> list[bytes]:
    """The JSON of each local rejection (index, line, to, code, description), byte for byte
    what ``orjson.dumps(Rejection(...).as_json())`` gives."""
    dumps = orjson.dumps
    return list(map(_LOCAL_JSON.__mod__, zip(indexes, map(dumps, lines), map(dumps, tos),
                                             map(dumps, codes), map(dumps, descriptions),
                                             strict=True)))


class LocalBatch:
    """One block's local rejections as the reader's bulk path finds them, in the block's own
    terms: record k of a block of one-line records (at positions ``start`` + k, lines
    ``first_line`` + k; None: records without lines) is refused where ``refused[k]`` is true,
    as ``refused[k]`` (a code; when ``refused`` is bytes, a number check's verdict, the code
    ``names[refused[k]]``), showing ``values[k]``, described as ``explain(values[k])`` when
    read. Nothing per rejection is made until asked for: a plan's table needs counts by code
    and a few rejections (``counts``, ``offsets``, ``rejection_at``), a spill every one."""

    __slots__ = ("explain", "first_line", "names", "refused", "start", "values")

    def __init__(self, start: int, first_line: int | None, values: list[str],
                 refused: list[str] | bytes, explain: Explain, names: tuple[str, ...] = ()
                 ) -> None:
        self.start, self.first_line, self.values = start, first_line, values
        self.refused, self.explain, self.names = refused, explain, names

    def __len__(self) -> int:
        kept = self.refused.count(0) if isinstance(self.refused, bytes) else \
            self.refused.count("")
        return len(self.refused) - kept

    def code_at(self, offset: int) -> str:
        code = self.refused[offset]
        return self.names[code] if isinstance(code, int) else code

    def counts(self) -> dict[str, int]:
        """How many of each code."""
        if isinstance(self.refused, bytes):
            kinds = set(self.refused) - {0}
            return {self.names[kind]: self.refused.count(kind) for kind in sorted(kinds)}
        return Counter(filter(None, self.refused))

    def first_offset(self, code: str) -> int:
        """The offset in the block of the first record refused as ``code`` (one of them)."""
        if isinstance(self.refused, bytes):
            return self.refused.index(self.names.index(code))
        return self.refused.index(code)

    def offsets(self) -> Iterator[int]:
        """The offsets of the refused records in order, found as they are asked for."""
        return compress(count(), self.refused)

    def rejection_at(self, offset: int) -> Rejection:
        """The record at ``offset`` as the Rejection the careful path would make of it."""
        line = None if self.first_line is None else self.first_line + offset
        return Rejection.explained(self.start + offset, line, self.values[offset],
                                   self.code_at(offset), self.explain)

    def indexes(self) -> list[int]:
        return list(compress(range(self.start, self.start + len(self.refused)), self.refused))

    def lines(self) -> list[int] | list[None]:
        if self.first_line is None:
            return [None] * len(self)
        first = self.first_line
        return list(compress(range(first, first + len(self.refused)), self.refused))

    def tos(self) -> list[str]:
        return list(compress(self.values, self.refused))

    def codes(self) -> list[str]:
        if isinstance(self.refused, bytes):
            return list(map(self.names.__getitem__, self.refused.replace(b"\0", b"")))
        return list(filter(None, self.refused))

    def rejections(self) -> Iterator[Rejection]:
        """Each one, in order (made in C, described when read)."""
        return rejected_many(self.indexes(), self.lines(), self.tos(), self.codes(),
                             self.explain)

    def payloads(self, indexes: list[int]) -> list[bytes]:
        """The JSON of each (``indexes``: ``self.indexes()``), described now, in bulk."""
        tos = self.tos()
        return local_payloads(indexes, self.lines(), tos, self.codes(),
                              describe_all(self.explain, tos))


ManyLocal = Callable[[LocalBatch], None]


class LocalSink:
    """Where a reader puts local rejections: called with one (the careful path reads record
    by record), or ``many`` with a block's at once (a ``LocalBatch``: the bulk path of
    engine/reading/records.py). Any plain callable taking one Rejection is a sink too; a
    reader uses ``many`` when it has it."""

    __slots__ = ("_one", "many")

    def __init__(self, one: Callable[[Rejection], None], many: ManyLocal) -> None:
        self._one = one
        self.many = many

    def __call__(self, rejection: Rejection) -> None:
        self._one(rejection)
