"""The compliance lint of ``a2p plan`` and ``a2p check``: warnings, never refusals.

Two things CTIA's Messaging Principles and Best Practices ask of every campaign, and one a
list shows (reference/compliance-notes.md, section 2):

- a marketing-looking text (sale, % off, offer, deal, discount, promo, buy, shop, limited
  time, free, coupon...) should tell the recipient how to opt out ("Reply STOP to opt out")
  and say who is texting, the brand first ("Acme: ..."; ``--brand`` names it);
- a list where more than a set share (5 % by default) is suppressed was likely not cleaned
  against opt-outs before: the consent it rests on is worth checking.

Templates are linted as written, once (their placeholders stand for text, not for an opt-out
line or a brand); texts from a column are linted on a small sample of distinct texts, each
warning naming the line it saw, never once per row.

>>> [w.split(" but ")[1][:24] for w in lint_text("SALE: 20% off", where="the text")]
['has no opt-out language:', 'does not start with the ']
>>> lint_text("Acme: 20% off today. Reply STOP to opt out", where="the batch text")
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

CTIA = "CTIA Messaging Principles and Best Practices"
CTIA_OPT_OUT = f"{CTIA}: every campaign tells recipients how to opt out, and honours STOP"
CTIA_BRAND = f"{CTIA}: a message identifies its sender, the brand, so people know who texts"
# Words that make a text look like marketing, the commonest first. Whole words, so "shop"
# is not found in "workshop" nor "free" in "freeze".
MARKETING = re.compile(
    r"\b(?:sale|sales|\d+\s?%\s?off|percent off|offer|offers|deal|deals|discount\w*|promo\w*|"
    r"buy|shop|shopping|limited[- ]time|free|coupon\w*|save|savings|clearance|bogo|"
    r"black friday|cyber monday|exclusive|order now|act now|last chance)\b"
    r"|\d+\s?%\s?off|\$\d+\s?off", re.IGNORECASE)
# Opt-out language: "Reply STOP to opt out", "Text STOP", "STOP to end", "opt out",
# "unsubscribe", and the keywords RingCentral honours (STOP, UNSUBSCRIBE, QUIT, CANCEL, END)
# named as what to reply.
OPT_OUT = re.compile(
    r"\b(?:reply|text|txt|send|msg)\s+stop\b|\bstop\s*(?:to|2)\s*(?:end|opt|quit|cancel|"
    r"unsubscribe|stop)|\bopt[- ]?out\b|\bunsubscribe\b|\bstop\s*=\s*(?:end|opt)",
    re.IGNORECASE)
# A brand first: "Acme: ", "Acme Shoes - ", "[Acme] ", "ACME>", at most four words.
BRAND_FIRST = re.compile(r"^\s*(?:\[[^\]\n]{1,40}\]|[\w&'.!]+(?:[ \t][\w&'.!]+){0,3}"
                         r"\s*(?::|-|\u2013|\u2014|>|\|))")
# Openings that end in a colon without naming anyone: "Reminder: ...", "Hi Sam: ..."
GENERIC = frozenset({"hi", "hello", "hey", "dear", "reminder", "alert", "notice", "update",
                     "important", "attention", "urgent", "today", "tonight", "now", "new",
                     "flash", "hurry", "news", "welcome", "psst", "ps", "note", "fyi", "wow"})
DEFAULT_SUPPRESSED_SHARE = 5.0  # percent
SAMPLE = 3  # distinct per-record texts a plan lints


def marketing_words(text: str) -> list[str]:
    """The marketing words ``text`` holds, each once, in the order they first appear."""
    return list(dict.fromkeys(m.group(0).lower() for m in MARKETING.finditer(text)))


def has_opt_out(text: str) -> bool:
    return OPT_OUT.search(text) is not None


def brand_first(text: str, brand: str | None) -> bool:
    """Whether ``text`` starts with ``brand`` (any case), or without one, with what reads
    as a sender's name: a few words and a colon or dash, or a bracketed name."""
    if brand:
        return text.lstrip().lower().startswith(brand.strip().lower())
    found = BRAND_FIRST.match(text)
    if found is None:
        return False
    name = found.group(0).strip(" \t[]:->|\u2013\u2014")
    words = name.lower().split()
    return bool(words) and words[0] not in GENERIC and not marketing_words(name) \
        and "{" not in name


def lint_text(text: str, *, where: str, brand: str | None = None) -> list[str]:
    """The warnings of one text (a batch text, a template, a sampled record's text);
    ``where`` names it in each. A text that does not look like marketing gets none, except
    the brand check when ``brand`` was given."""
    words = marketing_words(text)
    shown = ", ".join(repr(w) for w in words[:3])
    found = []
    if words and not has_opt_out(text):
        found.append(f"{where} looks like marketing ({shown}) but has no opt-out language: "
                     "add 'Reply STOP to opt out' (or 'Text STOP to end') to it. "
                     f"{CTIA_OPT_OUT}.")
    if (words or brand) and not brand_first(text, brand):
        start = text.strip()[:24]
        want = f"'{brand.strip()}: '" if brand else "your brand, e.g. 'Acme: ' (or --brand NAME)"
        seen = f"looks like marketing ({shown})" if words else f"starts {start!r}"
        found.append(f"{where} {seen} but does not start with the sender's brand: start it "
                     f"with {want}. {CTIA_BRAND}.")
    return found


def suppressed_warning(suppressed: int, records: int,
                       share: float = DEFAULT_SUPPRESSED_SHARE) -> str | None:
    """A warning when more than ``share`` percent of ``records`` are suppressed."""
    if records <= 0 or suppressed * 100 <= share * records:
        return None
    return (f"{suppressed:,} of {records:,} records ({suppressed * 100 / records:.1f} %) are "
            f"suppressed (opted out), more than {share:g} % (--warn-suppressed): the list was "
            "likely not cleaned against opt-outs, so the consent it rests on is worth "
            f"checking before sending. {CTIA}: text only recipients who consented, and honour "
            "every opt-out.")


class HasTexts(Protocol):
    """A block of records as the reader gives them: their own texts (None: the batch text)
    and their lines."""

    @property
    def texts(self) -> Sequence[str | None] | None: ...
    @property
    def lines(self) -> Sequence[int] | None: ...


B = TypeVar("B", bound=HasTexts)


@dataclass
class TextSample:
    """The first ``size`` distinct per-record texts of a list, with their lines: what a plan
    lints when texts come from a column. ``tap`` passes the blocks through."""

    size: int = SAMPLE
    texts: dict[str, int | None] = field(default_factory=dict)

    def tap(self, blocks: Iterable[B]) -> Iterator[B]:
        for block in blocks:
            if len(self.texts) < self.size and block.texts is not None:
                self.see(block.texts, block.lines)
            yield block

    def see(self, texts: Sequence[str | None], lines: Sequence[int] | None) -> None:
        for k, text in enumerate(texts):
            if len(self.texts) >= self.size:
                return
            if text is not None and text not in self.texts:
                self.texts[text] = lines[k] if lines is not None else None


def lint_campaign(*, text: str | None, template: str | None, sample: TextSample | None = None,
                  brand: str | None = None) -> list[str]:
    """The text warnings of a campaign: its batch text and template once each, and the
    sampled record texts (a warning said for one of them is not said again)."""
    found = []
    if template is not None:
        found += lint_text(template, where="the template", brand=brand)
    if text is not None:
        found += lint_text(text, where="the batch text", brand=brand)
    said: set[str] = set()
    for own, line in (sample.texts.items() if sample is not None else ()):
        where = f"the text of line {line}" if line is not None else "a record's own text"
        for warning in lint_text(own, where=where, brand=brand):
            kind = warning.split(" but ", 1)[1][:20]
            if kind not in said:
                said.add(kind)
                found.append(warning)
    return found


def list_warnings(*, text: str | None, template: str | None, sample: TextSample | None,
                  brand: str | None, suppressed: int, records: int,
                  share: float = DEFAULT_SUPPRESSED_SHARE) -> list[str]:
    """Every compliance warning of a planned list: its texts (``lint_campaign``) and its
    suppressed share (``suppressed_warning``)."""
    found = lint_campaign(text=text, template=template, sample=sample, brand=brand)
    crowded = suppressed_warning(suppressed, records, share)
    return [*found, crowded] if crowded else found
