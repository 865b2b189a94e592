"""Seeded lists from the bad end and from real CRM exports, for the plan benchmarks:

- ``random_nanp_csv``: random ``+1`` numbers, about 31 % of them refused by the local North
  American check (an exchange starting with 0 or 1, an unassignable area code);
- ``quoted_personal_csv``: valid numbers with personalised texts of up to 300 characters, every
  text quoted for a comma, half holding doubled quotes, a fifth needing UCS-2 (curly quotes,
  emoji, accented words outside GSM-7).

Both write ``path`` (CSV, header ``to`` or ``to,text``) and return the number of data rows;
the same ``(n, seed)`` writes the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.numbers import number

_ROWS_PER_WRITE = 65_536

_NAMES = ["Ana", "Bob", "Chloé", "Dmitri", "Eve", "Fatima", "Gus", "Hiro", "Inés", "Jon",
          "Kai", "Lena", "Marta", "Noah", "Olu", "Priya"]
_WORDS = ["your", "order", "is", "ready", "table", "today", "pick", "up", "before", "noon",
          "thanks", "visit", "soon", "code", "store", "Main", "St", "reply", "STOP", "to",
          "opt", "out", "we", "saved", "a", "seat", "for", "you", "at", "6pm"]
# Characters outside GSM-7 that people paste into texts: curly quotes, dashes, emoji...
_NON_GSM = ["\u201cVIP\u201d", "it\u2019s", "\u2014", "\U0001f600", "\U0001f389", "\u2026",
            "na\u00efve", "\u2605"]


def random_nanp_csv(path: Path | str, n: int, seed: int = 20) -> int:
    """``n`` rows of ``+1`` with a random area code 200-999 and seven random digits, under the
    header ``to``: about 31 % are rejected locally (LCL-INVALID-NUMBER for an exchange starting
    with 0 or 1, LCL-UNREACHABLE-NUMBER for N11, N9X, 37X, 96X, 555, 700, 710), the rest are
    textable. Plan it with ``--text``."""
    rng = random.Random(seed)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        handle.write("to\n")
        for start in range(0, n, _ROWS_PER_WRITE):
            count = min(_ROWS_PER_WRITE, n - start)
            handle.write("".join(f"+1{rng.randrange(200, 1000)}{rng.randrange(10_000_000):07d}\n"
                                 for _ in range(count)))
    return n


def _personal_text(i: int, rng: random.Random) -> str:
    """A personalised text of at most 300 characters holding a comma; every second one with a
    quoted word, every fifth with characters outside GSM-7."""
    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 50))]
    if i % 2 == 0:
        words.insert(rng.randrange(len(words) + 1), '"VIP"')
    if i % 5 == 1:
        words.insert(rng.randrange(len(words) + 1), rng.choice(_NON_GSM))
    text = f"Hi {rng.choice(_NAMES)}, " + " ".join(words)
    return text[:300]


def quoted_personal_csv(path: Path | str, n: int, seed: int = 20) -> int:
    """``n`` rows ``to,text`` of valid distinct numbers (benchmarks/numbers.py) and personalised
    texts of 15 to 300 characters, each quoted because it holds a comma; half hold doubled
    quotes (``""VIP""``), a fifth force UCS-2. Every row is accepted; plan it without
    ``--text``."""
    rng = random.Random(seed)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        handle.write("to,text\n")
        for start in range(0, n, _ROWS_PER_WRITE):
            stop = min(n, start + _ROWS_PER_WRITE)
            handle.write("".join(
                f'{number(i)},"{_personal_text(i, rng).replace(chr(34), chr(34) * 2)}"\n'
                for i in range(start, stop)))
    return n
