"""engine/core/lint.py: the compliance lint warns about a marketing text without opt-out
language or a brand first, and about a list mostly suppressed; plain texts pass quietly."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.core.lint import (
    TextSample,
    brand_first,
    has_opt_out,
    lint_campaign,
    lint_text,
    list_warnings,
    marketing_words,
    suppressed_warning,
)


@pytest.mark.parametrize("text", [
    "Big sale this weekend", "20% off everything", "Limited time offer", "Use coupon SAVE10",
    "Buy one get one FREE", "Shop our new deals", "Promo code inside", "$5 off your order"])
def test_marketing_texts_are_recognised(text: str) -> None:
    """The usual marketing words are found, whatever their case."""
    assert marketing_words(text)


@pytest.mark.parametrize("text", [
    "Your code is 123456", "Your appointment is at 9:00 tomorrow", "Workshop moved to Room 4",
    "Freeze warning tonight: drive safely", "Your order has shipped"])
def test_plain_texts_are_not_marketing(text: str) -> None:
    """Codes, reminders and notices (and words that merely contain one: workshop, freeze)
    are not marketing, and get no warning."""
    assert marketing_words(text) == []
    assert lint_text(text, where="the text") == []


@pytest.mark.parametrize("text", [
    "Reply STOP to opt out", "Text STOP to end", "STOP to end", "Msg&data rates may apply. "
    "Txt STOP to quit", "To opt-out reply STOP", "unsubscribe: reply STOP", "Opt out: STOP"])
def test_opt_out_language_is_recognised(text: str) -> None:
    """The common ways of saying how to opt out count as opt-out language."""
    assert has_opt_out(text)


def test_a_stop_in_passing_is_not_opt_out_language() -> None:
    """'stop by our store' says nothing about opting out."""
    assert not has_opt_out("Stop by our store for the sale")


def test_a_marketing_text_without_opt_out_or_brand_gets_both_warnings() -> None:
    """Each warning names where it looked, the words it saw, what to add and cites CTIA."""
    warnings = lint_text("Huge SALE today: 30% off everything", where="the batch text")
    assert len(warnings) == 2
    opt_out, brand = warnings
    assert opt_out.startswith("the batch text looks like marketing ('sale', '30% off')")
    assert "add 'Reply STOP to opt out'" in opt_out
    assert "does not start with the sender's brand" in brand
    assert "'Acme: '" in brand
    assert all("CTIA" in w for w in warnings)


def test_a_branded_marketing_text_with_opt_out_passes() -> None:
    """'Acme: ... Reply STOP to opt out' is what CTIA asks for: no warning."""
    assert lint_text("Acme: 30% off everything today. Reply STOP to opt out",
                     where="t") == []
    assert lint_text("[Acme Shoes] Flash deal, buy now. Text STOP to end", where="t") == []


def test_a_brand_is_what_the_text_starts_with() -> None:
    """Without --brand a name and a colon (not a greeting or a marketing word) reads as the
    brand; with --brand the text must start with it, marketing or not."""
    assert brand_first("Acme: hello", None)
    assert not brand_first("Sale: hello", None)
    assert not brand_first("Hi {name}: 20% off", None)
    assert not brand_first("Reminder: 20% off", None)
    assert brand_first("ACME Corp - news", "acme")
    assert not brand_first("Globex: news", "Acme")
    assert lint_text("Your code is 1234", where="t", brand="Acme")[0].startswith(
        "t starts 'Your code is 1234' but does not start with the sender's brand: start it "
        "with 'Acme: '")


def test_a_template_is_linted_once_and_a_text_column_on_a_sample() -> None:
    """The template is linted as written; per-record texts on the first few distinct ones,
    each warning once, naming the line it saw."""
    assert len(lint_campaign(text=None, template="Hi {name}, 20% off! Reply STOP to opt out",
                             brand=None)) == 1
    sample = TextSample(size=3)
    blocks = [_Block(["Sale 20% off"] * 500 + ["Your code 1"], list(range(2, 503)))]
    assert list(sample.tap(blocks)) == blocks
    assert sample.texts == {"Sale 20% off": 2, "Your code 1": 502}
    warnings = lint_campaign(text=None, template=None, sample=sample, brand=None)
    assert len(warnings) == 2
    assert all(w.startswith("the text of line 2 ") for w in warnings)


def test_a_list_mostly_suppressed_is_warned_about_above_the_share() -> None:
    """More than 5 % suppressed (or the share given) is a warning saying how many; at or
    below it, none."""
    assert suppressed_warning(5, 100) is None
    warning = suppressed_warning(6, 100)
    assert warning is not None
    assert warning.startswith("6 of 100 records (6.0 %) are suppressed")
    assert "CTIA" in warning
    assert suppressed_warning(6, 100, share=10) is None
    assert suppressed_warning(0, 0) is None
    assert list_warnings(text="Acme: hi", template=None, sample=None, brand=None,
                         suppressed=50, records=100) == [suppressed_warning(50, 100)]


class _Block:
    def __init__(self, texts: Sequence[str | None], lines: Sequence[int]) -> None:
        self.texts = texts
        self.lines = lines
