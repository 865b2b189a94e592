"""SendOptions, what one send is asked to do: a frozen value with the documented defaults,
keywords laid over it without changing it, and every bad setting refused before anything
runs, naming the choices."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import anyio
import pytest

from engine.errors import UsageError
from engine.run.options import ON_AMBIGUOUS, WAITS, OnAmbiguous, SendOptions, Wait
from tests.fakes import SENDER


def test_the_defaults_are_the_documented_ones() -> None:
    """Completed batches, reconcile a lost answer, an hour for receipts, the pre-flight and
    token revocation on, real time, no journal, no stop."""
    given = SendOptions()
    assert (given.wait, given.on_ambiguous, given.delivery_timeout) == \
        ("completed", "reconcile", 3600.0)
    assert (given.preflight, given.revoke) == (True, True)
    assert (given.clock, given.sleep) == (time.monotonic, anyio.sleep)
    assert (given.journal, given.resume, given.report, given.stop) == (None, None, None, None)


def test_options_are_frozen() -> None:
    """A run cannot have its options changed under it."""
    given = SendOptions(sender=SENDER)
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.sender = "+16505550101"  # type: ignore[misc]  # the point: it is frozen


def test_keywords_are_laid_over_the_options_given_which_stay_as_they_were() -> None:
    """of(options, keywords): the keywords win, the other fields are the object's, and the
    object passed in is unchanged (it may be shared between runs)."""
    base = SendOptions(sender=SENDER, text="Hi", concurrency=4)
    made = SendOptions.of(base, {"text": "Bye", "wait": "accepted"})
    assert (made.sender, made.text, made.concurrency, made.wait) == \
        (SENDER, "Bye", 4, "accepted")
    assert (base.text, base.wait) == ("Hi", "completed")
    assert SendOptions.of(None, {"sender": SENDER}) == SendOptions(sender=SENDER)
    assert SendOptions.of(base, {}) == base


def test_several_unknown_keywords_are_all_named_with_every_option() -> None:
    """Two misspellings are reported together, sorted, with the list of real options."""
    with pytest.raises(TypeError) as refused:
        SendOptions.of(None, {"txt": "Hi", "from_": SENDER})
    message = str(refused.value)
    assert "unexpected keyword arguments from_, txt;" in message
    for name in ("sender", "text", "max_batch_messages", "on_ambiguous", "stop"):
        assert name in message


@pytest.mark.parametrize("wait", WAITS)
@pytest.mark.parametrize("on_ambiguous", ON_AMBIGUOUS)
def test_every_documented_wait_and_on_ambiguous_is_accepted(wait: Wait,
                                                            on_ambiguous: OnAmbiguous) -> None:
    """Each pair of allowed values makes options holding exactly them."""
    made = SendOptions(wait=wait, on_ambiguous=on_ambiguous)
    assert (made.wait, made.on_ambiguous) == (wait, on_ambiguous)


def test_an_unknown_on_ambiguous_is_refused_naming_its_choices() -> None:
    """on_ambiguous='retry' is a usage error that lists on_ambiguous's values, not wait's."""
    with pytest.raises(UsageError) as refused:
        SendOptions(on_ambiguous="retry")  # type: ignore[arg-type]  # refused at run time too
    assert "on_ambiguous must be one of reconcile, resend, fail" in str(refused.value)
    assert "'retry'" in str(refused.value)
    assert "wait" not in str(refused.value)


def test_an_unknown_wait_is_refused_blaming_wait_alone() -> None:
    """wait='sometime' names wait and its values; on_ambiguous (left alone) is not blamed."""
    with pytest.raises(UsageError) as refused:
        SendOptions(wait="sometime")  # type: ignore[arg-type]
    message = str(refused.value)
    assert "wait='sometime': wait must be one of completed, accepted, delivered" in message
    assert "on_ambiguous" not in message


@pytest.mark.parametrize(("keywords", "said"), [
    ({"text": 123}, "text= takes a string or None; got 123 (int)"),
    ({"concurrency": "4"}, "concurrency= takes a whole number or None; got '4' (str)"),
    ({"concurrency": True}, "concurrency= takes a whole number"),
    ({"delivery_timeout": "60"}, "delivery_timeout= takes a number of seconds"),
    ({"consent": "no"}, "consent= takes True or False"),
    ({"report": 7}, "report= takes a path"),
    ({"on_event": "print"}, "on_event= takes a function"),
    ({"suppress": "optouts.csv"}, "suppress=['optouts.csv']"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_the_parameter(
        keywords: dict[str, Any], said: str) -> None:
    """An untyped caller's wrong value is a UsageError naming the parameter (library
    words, no CLI flag) and what it takes, before anything is read."""
    with pytest.raises(UsageError) as refused:
        SendOptions(**keywords)
    assert said in str(refused.value)
    assert "--" not in str(refused.value)


async def test_recipients_of_the_wrong_type_are_refused_before_anything_is_read() -> None:
    """engine.send(123, ...): a UsageError naming what recipients takes, not a TypeError
    from the reader."""
    import engine

    with pytest.raises(UsageError, match=r"recipients takes a path .* got 123 \(int\)"):
        await engine.send(123, sender=SENDER, text="x")  # type: ignore[arg-type]


@pytest.mark.parametrize("cap", [0, -3])
def test_a_cap_below_one_message_is_refused(cap: int) -> None:
    """A request holds at least one message: 0 or less is refused, None means no cap."""
    with pytest.raises(UsageError, match=f"max_batch_messages {cap}: a request holds"):
        SendOptions(max_batch_messages=cap)
    assert SendOptions(max_batch_messages=1).max_batch_messages == 1
    assert SendOptions(max_batch_messages=None).max_batch_messages is None


def test_keywords_are_checked_as_the_constructor_checks() -> None:
    """A bad value given as a keyword over good options is refused the same way."""
    with pytest.raises(UsageError, match="wait must be one of"):
        SendOptions.of(SendOptions(sender=SENDER), {"wait": "sent"})
