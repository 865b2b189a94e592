"""The chunker against a naive reference: same bodies to the byte, all under the limit, full."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.batching import halves as halves_module
from engine.batching.chunker import Chunk, Chunker, Digest, chunk_blocks
from engine.batching.halves import halves
from engine.batching.messagejson import message_sizes, payload_size, serialize
from engine.errors import RecordTooLargeError, UsageError
from engine.reading import Block

SENDER = "+16505550100"
numbers = st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)
texts = st.one_of(st.none(), st.text(min_size=1, max_size=40),
                  st.sampled_from(['a","b', "back\\", '"', "\\\"", "é😀\u2028", "\x00\x1f"]))


def naive_bodies(records: list[tuple[str, str | None]], text: str | None, max_bytes: int,
                 max_messages: int | None) -> list[bytes]:
    """One orjson.dumps of the whole candidate body per record: slow and obviously right."""
    def body(messages: list[dict[str, Any]]) -> bytes:
        head: dict[str, Any] = {"from": SENDER}
        if text is not None:
            head["text"] = text
        return orjson.dumps({**head, "messages": messages})

    bodies: list[bytes] = []
    current: list[dict[str, Any]] = []
    for to, own in records:
        message: dict[str, Any] = {"to": [to]} if own is None else {"to": [to], "text": own}
        full = max_messages is not None and len(current) == max_messages
        if current and (full or len(body([*current, message])) > max_bytes):
            bodies.append(body(current))
            current = []
        current.append(message)
        assert len(body(current)) <= max_bytes, "reference: record too large"
    if current:
        bodies.append(body(current))
    return bodies


def blocks_of(records: list[tuple[str, str | None]], sizes: list[int],
              positions: list[int]) -> list[Block]:
    """Split records into blocks of the given sizes (cycled), as the reader would."""
    blocks, i, k = [], 0, 0
    while i < len(records):
        n = max(1, sizes[k % len(sizes)])
        part = records[i:i + n]
        own = [t for _, t in part]
        where = positions[i:i + n]
        blocks.append(Block(tos=[to for to, _ in part],
                            texts=None if all(t is None for t in own) else own,
                            positions=where, lines=[p + 2 for p in where]))
        i, k = i + n, k + 1
    return blocks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.tuples(numbers, texts), min_size=1, max_size=60),
    text=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
    max_bytes=st.integers(min_value=150, max_value=3000),
    max_messages=st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
    sizes=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=5),
    gaps=st.lists(st.integers(min_value=1, max_value=3), min_size=60, max_size=60),
    window=st.one_of(st.just(256), st.integers(min_value=1, max_value=7)),
)
def test_chunks_match_the_naive_reference(records: list[tuple[str, str | None]],
                                          text: str | None, max_bytes: int,
                                          max_messages: int | None, sizes: list[int],
                                          gaps: list[int], window: int) -> None:
    """Bodies equal the naive ones byte for byte, stay under the limit, parse, and map back,
    however the blocks fall and however many messages each dumps serialises."""
    positions = [sum(gaps[:i]) for i in range(len(records))]
    try:
        expected = naive_bodies(records, text, max_bytes, max_messages)
    except AssertionError:
        alone = [naive_bodies([r], text, 1 << 30, None)[0] for r in records]
        first = next(i for i, b in enumerate(alone) if len(b) > max_bytes)
        where = rf"record {positions[first]} \(line {positions[first] + 2}\)"
        for keep_bodies in (True, False):
            with pytest.raises(RecordTooLargeError, match=where):
                list(Chunker(SENDER, text, max_bytes, max_messages, keep_bodies=keep_bodies,
                             window=window).chunks(blocks_of(records, sizes, positions)))
        return
    chunks = list(Chunker(SENDER, text, max_bytes, max_messages, window=window)
                  .chunks(blocks_of(records, sizes, positions)))
    assert [c.body for c in chunks] == expected
    assert all(len(c.body) <= max_bytes for c in chunks)
    sent = [m for c in chunks for m in orjson.loads(c.data)["messages"]]
    assert [m["to"][0] for m in sent] == [to for to, _ in records]
    located = [c.index.locate(i) for c in chunks for i in range(1, c.count + 1)]
    assert located == [(p, p + 2) for p in positions]
    assert [c.number for c in chunks] == list(range(1, len(chunks) + 1))
    assert [c.size for c in chunks] == [len(b) for b in expected]
    measured = chunk_blocks(blocks_of(records, sizes, positions), SENDER, text, max_bytes,
                            max_messages, keep_bodies=False)
    assert [(c.size, c.count, c.first_position, c.last_position) for c in measured] == \
        [(c.size, c.count, c.first_position, c.last_position) for c in chunks]


def one_body(n: int, text: str = "Hi") -> bytes:
    return orjson.dumps({"from": SENDER, "text": text,
                         "messages": [{"to": [f"+1415555{i:04d}"]} for i in range(n)]})


def run(n: int, max_bytes: int) -> list[Chunk]:
    block = Block(tos=[f"+1415555{i:04d}" for i in range(n)], positions=list(range(n)))
    return list(chunk_blocks([block], SENDER, "Hi", max_bytes))


def test_body_exactly_at_the_limit_is_one_chunk() -> None:
    """A list whose body is exactly max_bytes goes in one request; one byte less splits it."""
    size = len(one_body(10))
    assert [len(c.body) for c in run(10, size)] == [size]
    split = run(10, size - 1)
    assert [c.count for c in split] == [9, 1]
    assert all(len(c.body) <= size - 1 for c in split)


def test_limit_smaller_than_one_record_names_the_record() -> None:
    """A record that cannot fit alone is an error naming it and the fix."""
    block = Block(tos=["+14155550100"], texts=["x" * 500], positions=[7], lines=[9])
    with pytest.raises(RecordTooLargeError, match=r"record 7 \(line 9\).*--max-batch-bytes"):
        list(chunk_blocks([block], SENDER, None, 300))


def test_limit_below_an_empty_request_is_a_usage_error() -> None:
    """A limit that cannot hold even the envelope is refused up front."""
    with pytest.raises(UsageError, match="Raise --max-batch-bytes"):
        list(chunk_blocks([], SENDER, "Hi", 20))


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.tuples(numbers, texts), min_size=1, max_size=40))
def test_a_dry_run_counts_the_bytes_a_real_run_builds(records: list[tuple[str, str | None]]
                                                      ) -> None:
    """payload_size, computed without building anything, is the length of serialize()."""
    tos = [to for to, _ in records]
    own = [t for _, t in records]
    filled: list[str | None] = [t if t is not None else "x" for t in own]
    variants: list[list[str | None] | None] = [own, None, filled]
    for block_texts in variants:
        assert payload_size(tos, block_texts) == len(serialize(tos, block_texts))


def test_serialize_and_sizes_agree() -> None:
    """Per-message sizes add up to the serialized block, separators included."""
    tos = ["+14155550100", "+14155550101", "+14155550102"]
    owns: list[list[str | None] | None] = [None, ["a", 'q"uote', "ü"], ["a", None, "\\"]]
    for own in owns:
        payload = serialize(tos, own)
        assert len(payload) == sum(message_sizes(tos, own)) + len(tos) - 1
        assert orjson.loads(b"[" + payload + b"]")[0]["to"] == ["+14155550100"]


def test_contiguous_chunk_index_is_one_run() -> None:
    """Two thousand contiguous messages are indexed by one run, not one entry each."""
    chunks = run(2000, 10**6)
    assert chunks[0].index.runs == 1
    assert chunks[0].index.locate(2000) == (1999, None)


def test_chunks_know_the_byte_offset_of_their_first_record() -> None:
    """A file's chunks start at the offset where their first record's line begins."""
    from engine.reading import ReadOptions, read_lines

    raw = b"to\n" + b"".join(b"+1415555%04d\n" % i for i in range(50))
    blocks = read_lines(raw.splitlines(keepends=True), ReadOptions(batch_text="Hi"),
                        lambda r: None)
    chunks = list(chunk_blocks(blocks, SENDER, "Hi", 300))
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.start_offset is not None
        first = orjson.loads(chunk.data)["messages"][0]["to"][0]
        assert raw[chunk.start_offset:].startswith(first.encode())


def test_chunks_of_per_message_texts_start_at_their_first_record() -> None:
    """With texts of their own, chunks that start inside a block and inside a window of it
    still know the byte offset of their first record's line, which a resume reads from."""
    from engine.reading import ReadOptions, read_lines

    raw = b"to,text\n" + b"".join(b'+1415555%04d,"Hi, %d"\n' % (i, i) for i in range(700))
    blocks = list(read_lines(raw.splitlines(keepends=True), ReadOptions(), lambda r: None))
    assert len(blocks) == 1
    assert blocks[0].texts is not None
    chunks = list(Chunker(SENDER, None, 2_000).chunks(blocks))
    assert len(chunks) > 10
    assert sum(c.count for c in chunks) == 700
    for chunk in chunks:
        assert chunk.start_offset is not None
        first = orjson.loads(chunk.data)["messages"][0]["to"][0]
        assert raw[chunk.start_offset:].startswith(first.encode())


def test_texts_are_dumped_a_window_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block of per-message texts is serialised at most a window of messages per dumps, so
    the cycle collector is not set off by a block's worth of dicts, and the bytes are the same
    as one dumps of the whole block."""
    import engine.batching.chunker as chunker

    records: list[tuple[str, str | None]] = [(f"+1415555{i:04d}", f"Hi {i}, \"you\"")
                                             for i in range(1_000)]
    block = blocks_of(records, [len(records)], list(range(len(records))))
    sizes: list[int] = []  # serialize is messagejson's own, unpatched

    def counted(tos: list[str], own: list[str | None] | None) -> Any:
        sizes.append(len(tos))
        return serialize(tos, own)

    monkeypatch.setattr(chunker, "serialize", counted)
    chunks = list(Chunker(SENDER, None, 30_000).chunks(block))
    assert 0 < max(sizes) <= 256
    assert [c.body for c in chunks] == naive_bodies(records, None, 30_000, None)


def test_a_window_of_no_messages_is_refused() -> None:
    """A chunker that could take no message at a time would drop every record: refused."""
    with pytest.raises(UsageError, match="at least one message"):
        Chunker(SENDER, None, 1_000, window=0)


def test_a_chunks_digest_is_that_of_its_position_number_pairs_however_read() -> None:
    """The digest a resume checks skipped records against: the same for the same (position,
    number) pairs in any blocks, with or without lines; another number or position, or one
    record fewer, changes it."""
    positions = [*range(0, 40), *range(45, 60)]  # 40..44: rejected locally
    tos = [f"+1415555{p:04d}" for p in positions]
    (chunk,) = Chunker("+16505550100", "Hi", 1 << 20).chunks(
        [Block(tos[:7], None, positions[:7], [p + 2 for p in positions[:7]]),
         Block(tos[7:], None, positions[7:], [p + 2 for p in positions[7:]])])

    def digest(pairs: list[tuple[int, str]], step: int) -> str:
        made = Digest()
        for k in range(0, len(pairs), step):
            piece = pairs[k:k + step]
            made.update([p for p, _ in piece], [t for _, t in piece])
        return made.hexdigest()

    pairs = list(zip(positions, tos, strict=True))
    assert chunk.digest == digest(pairs, 1) == digest(pairs, 13) == digest(pairs, 100)
    assert digest([*pairs[:3], (pairs[3][0], "+14155559999"), *pairs[4:]], 5) != chunk.digest
    assert digest([(p + 1, t) for p, t in pairs], 5) != chunk.digest
    assert digest(pairs[:-1], 5) != chunk.digest


def test_halves_keep_every_message_and_its_input_position() -> None:
    """A 413's halves: the first holds the first half of the messages, the second the rest,
    numbered as asked, each index still locating its records in the input (lines too)."""
    tos = [f"+1415555000{k}" for k in range(5)]
    (chunk,) = Chunker("+16505550100", None, 10_000).chunks(
        [Block(tos=tos, texts=[f"t{k}" for k in range(5)], positions=[2, 4, 6, 8, 10],
               lines=[3, 5, 7, 9, 11])])
    first, second = halves(chunk, 7, 8)
    assert (first.number, second.number) == (7, 8)
    bodies = [orjson.loads(half.data) for half in (first, second)]
    assert [[m["to"][0] for m in b["messages"]] for b in bodies] == [tos[:2], tos[2:]]
    assert [m["text"] for m in bodies[1]["messages"]] == ["t2", "t3", "t4"]
    assert all(b["from"] == "+16505550100" for b in bodies)
    assert [first.index.locate(k) for k in (1, 2)] == [(2, 3), (4, 5)]
    assert [second.index.locate(k) for k in (1, 2, 3)] == [(6, 7), (8, 9), (10, 11)]
    assert (first.size, second.size) == (len(first.body), len(second.body))


def test_each_half_of_a_split_chunk_carries_the_digest_of_its_own_records() -> None:
    """A 413's halves journal digests of their own (position, number) pairs, so a resume
    checks their records against the input as it checks any chunk's."""
    tos = [f"+1415555000{k}" for k in range(5)]
    (chunk,) = Chunker("+16505550100", "Hi", 10_000).chunks(
        [Block(tos=tos, texts=None, positions=[2, 4, 6, 8, 10], lines=[3, 5, 7, 9, 11])])
    first, second = halves(chunk, 7, 8)
    for half, positions, numbers in ((first, [2, 4], tos[:2]), (second, [6, 8, 10], tos[2:])):
        expected = Digest()
        expected.update(positions, numbers)
        assert half.digest == expected.hexdigest() != ""


class PiecedBody:
    """A stored body that is only ever read in pieces: reading it whole fails the test."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.sizes: list[int] = []

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        raise AssertionError("a split read the body whole")

    def pieces(self, size: int) -> Iterator[bytes]:
        self.sizes.append(size)
        for k in range(0, len(self._data), size):
            yield self._data[k:k + size]


@pytest.mark.parametrize("piece", [7, 64, 1 << 20])
def test_halves_are_cut_from_a_stored_body_in_pieces_as_a_parse_would_cut_them(
        monkeypatch: pytest.MonkeyPatch, piece: int) -> None:
    """A 413's halves of a spooled body, read a piece at a time and never whole: the same
    bytes, positions, lines and digests as halving its parsed messages, whatever the texts
    hold (quotes, a text that looks like a message, non-ASCII) and wherever pieces end."""
    monkeypatch.setattr(halves_module, "PIECE", piece)
    rng = random.Random(piece)
    for n in (2, 3, 41, 400):
        positions = sorted(rng.sample(range(3 * n), n))
        tos = [f"+1415{rng.randint(0, 9_999_999):07d}" for _ in range(n)]
        texts = [rng.choice([None, 'say "hi" {"to":["+1"]},', "é" * rng.randint(0, 40)])
                 for _ in range(n)]
        lines = [p + 1 for p in positions] if n % 2 else None
        (chunk,) = Chunker(SENDER, "Hi", 1 << 30).chunks(
            [Block(tos=tos, texts=texts, positions=positions, lines=lines)])
        stored = PiecedBody(bytes(chunk.body))
        first, second = halves(Chunk(chunk.number, stored, chunk.size, chunk.index, 12,
                                     chunk.digest), 7, 8)
        assert stored.sizes == [piece]
        parsed = orjson.loads(bytes(stored._data))
        messages, cut = parsed.pop("messages"), n // 2
        for half, part in ((first, slice(0, cut)), (second, slice(cut, n))):
            assert half.body == orjson.dumps({**parsed, "messages": messages[part]})
            assert half.size == len(half.body)
            where = [(p, None if lines is None else p + 1) for p in positions[part]]
            assert [half.index.locate(k) for k in range(1, half.count + 1)] == where
            expected = Digest()
            expected.update(positions[part], tos[part])
            assert half.digest == expected.hexdigest()
        assert (first.start_offset, second.start_offset) == (12, None)
