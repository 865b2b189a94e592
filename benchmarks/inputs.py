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
