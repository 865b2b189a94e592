"""Generated, seeded, cached benchmark inputs: broadcast lists and per-message texts of mixed
length and alphabet (GSM-7 and UCS-2), as CSV, JSONL and plain lines.

Per-message CSV is written the way CRM exports come: most texts quoted (all that hold a comma
or a quote, which is doubled), some texts with commas and quotes inside."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from benchmarks.numbers import number

CACHE = Path(__file__).parent / ".cache"
WORDS_GSM = ["table", "ready", "your", "order", "code", "today", "thanks", "visit", "soon",
             "ready,", '"VIP"']
WORDS_UCS2 = ["Привет", "ваш", "заказ", "готов", "谢谢", "您的", "订单", "¡Hola!", "día"]


def _pool(seed: int, size: int = 4096) -> list[str]:
    rng = random.Random(seed)
    pool = []
    for _ in range(size):
        words = WORDS_UCS2 if rng.random() < 0.2 else WORDS_GSM
        pool.append(" ".join(rng.choice(words) for _ in range(rng.randint(2, 45))))
    return pool


def personal_texts(n: int, seed: int = 7) -> Iterator[str]:
    """Texts of 10 to 300 characters, each distinct; about one in five needs UCS-2. Drawn
    from a seeded pool so that generating ten million costs seconds, not minutes."""
    pool = _pool(seed)
    size = len(pool)
    for i in range(n):
        yield f"Hi {i}: {pool[(i * 2654435761) % size]}"


def _csv_field(text: str, i: int) -> str:
    """Quoted when it must be, and 19 times in 20 anyway (as spreadsheet exports do)."""
    if '"' in text or "," in text or i % 20:
        return '"' + text.replace('"', '""') + '"'
    return text


def input_file(n: int, fmt: str, personal: bool) -> Path:
    """The cached file of ``n`` recipients in ``fmt`` (csv, jsonl, lines)."""
    CACHE.mkdir(exist_ok=True)
    shape = "personal" if personal else "broadcast"
    # v2: texts with commas and quotes, not every one quoted (older caches differ)
    path = CACHE / f"{shape}-v2-{n}.{ 'txt' if fmt == 'lines' else fmt}"
    if path.exists():
        return path
    texts = personal_texts(n) if personal else None
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        if fmt == "csv":
            handle.write(b"to,text\n" if personal else b"to\n")
        for i in range(n):
            to = number(i)
            if fmt == "jsonl":
                item = {"to": to, "text": next(texts)} if texts else {"to": to}
                handle.write(orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE))
            elif fmt == "csv" and texts:
                handle.write(f"{to},{_csv_field(next(texts), i)}\n".encode())
            else:
                handle.write(f"{to}\n".encode())
    partial.rename(path)
    return path


# The bad end (issue 20): lists that are mostly or partly wrong, and personalised texts as
# people write them. Each writer takes (path, n, seed), like benchmarks/badlists.py's.
FIRST = ["Maria", "James", "Wei", "Olga", "Ahmed", "Sofia", "John", "Aisha", "Luca", "Emma",
         "Carlos", "Yuki", "Noah", "Fatima", "Ivan", "Grace", "Omar", "Chloe", "Raj", "Ana"]
LAST = ["Lopez", "Smith", "Zhang", "Ivanova", "Khan", "Rossi", "Brown", "Okafor", "Muller",
        "Garcia", "Tanaka", "Nguyen", "Silva", "Cohen", "Novak", "Jones", "Kim", "Haddad"]
ROWS_PER_WRITE = 65_536


def _write_rows(path: Path, header: bytes, rows: Iterator[str]) -> None:
    """Write ``header`` and ``rows`` (each with its newline) through a .partial file, so an
    interrupted generation never leaves a cached file that looks whole."""
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        handle.write(header)
        batch: list[str] = []
        for row in rows:
            batch.append(row)
            if len(batch) == ROWS_PER_WRITE:
                handle.write("".join(batch).encode())
                batch.clear()
        handle.write("".join(batch).encode())
    partial.rename(path)


def random_nanp_csv(path: Path, n: int, seed: int) -> None:
    """Random ``+1`` numbers as a file of random numbers holds them: ``+1``, a digit 2-9 and
    nine random digits. The North American checks reject about 31 %: an exchange starting
    with 0 or 1 (20 %) or a reserved area code (N11, N9X, 37X, 96X, 555, 700, 710: 14 %).
    (Ten fully random digits would add area codes starting with 0 or 1: 45 % rejected.)"""
    rng = random.Random(seed)
    _write_rows(path, b"to\n", (f"+1{rng.randrange(2 * 10**9, 10**10)}\n"
                                  for _ in range(n)))


def wrong_column_csv(path: Path, n: int, seed: int) -> None:
    """The wrong column: the ``to`` column holds names (about 60 %) and customer ids (35 %);
    one row in 20 holds a valid, distinct number."""
    rng = random.Random(seed)

    def rows() -> Iterator[str]:
        for i in range(n):
            if i % 20 == 7:
                yield f"{number(i)}\n"
            elif rng.random() < 0.63:
                yield f"{rng.choice(FIRST)} {rng.choice(LAST)}\n"
            else:
                yield f"CUST-{rng.randrange(10**8):08d}\n"

    _write_rows(path, b"to\n", rows())


def _filler_pool(rng: random.Random, size: int = 4096) -> list[str]:
    """GSM-7 word runs of 0 to about 290 characters."""
    words = ["table", "ready", "your", "order", "code", "today", "thanks", "visit", "soon",
             "reply", "STOP", "to", "opt", "out", "see", "you", "at", "9"]
    pool = []
    for _ in range(size):
        target, text = rng.randint(0, 290), ""
        while len(text) < target:
            text += rng.choice(words) + " "
        pool.append(text[:target])
    return pool


def quoted_personal_csv(path: Path, n: int, seed: int) -> None:
    """Personalised texts as people write them: up to 300 characters, every one holding a
    comma (so quoted), every second one a quoted word (doubled quotes in the file), every
    fifth a non-GSM word (UCS-2)."""
    rng = random.Random(seed)
    pool = _filler_pool(rng)
    names = [f"{first} {last}" for first in FIRST for last in LAST]

    def rows() -> Iterator[str]:
        for i in range(n):
            text = (f"Hi {names[(i * 7919) % len(names)]}, "
                    + ('your "VIP" table, ' if i % 2 == 0 else "")
                    + ("Привет, 谢谢! " if i % 5 == 0 else "")
                    + pool[(i * 2654435761) % len(pool)])[:300]
            yield f'{number(i)},"{text.replace(chr(34), chr(34) * 2)}"\n'

    _write_rows(path, b"to,text\n", rows())


BAD_LISTS = {"bad30": random_nanp_csv, "bad95": wrong_column_csv, "quoted": quoted_personal_csv}


def bad_input_file(n: int, kind: str) -> Path:
    """The cached CSV of ``n`` rows of ``kind``: bad30 (random ``+1`` numbers), bad95 (the
    wrong column) or quoted (personalised quoted texts)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{kind}-v1-{n}.csv"
    if not path.exists():
        BAD_LISTS[kind](path, n, seed=20)
    return path
