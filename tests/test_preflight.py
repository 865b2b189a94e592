"""The pre-flight's decisions, without a server: the sender, the tier, the list's size."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from engine.errors import SenderError, UsageError
from engine.run.preflight import (
    Recipients,
    SenderNumber,
    estimate_recipients,
    judge_sender,
    registration_of,
    registration_warnings,
)

A2P = ["CallerId", "SmsSender", "A2PSmsSender"]
NUMBERS = [{"id": 1, "phoneNumber": "+16505550100", "features": A2P, "status": "Normal"},
           {"id": 2, "phoneNumber": "+16505550101", "features": A2P, "status": "Normal"},
           {"id": 3, "phoneNumber": "+16505550199", "features": ["SmsSender"]}]
SENDER = SenderNumber("+16505550101", 2, tuple(A2P), "Normal")


def test_an_a2p_number_of_the_user_passes() -> None:
    """The sender is found with its id, features and status."""
    found = judge_sender("+16505550101", NUMBERS)
    assert found == SENDER


def test_a_number_not_on_the_account_is_refused_with_the_right_numbers() -> None:
    """A wrong --from is refused naming the user's A2P numbers and the flag that fixes it."""
    with pytest.raises(SenderError) as caught:
        judge_sender("+14155550100", NUMBERS)
    message = str(caught.value)
    assert message.startswith("the number +14155550100 is not one of this account's numbers "
                              "with the A2PSmsSender feature; your A2P numbers are: "
                              "+16505550100, +16505550101.")
    assert "--from" in message
    assert isinstance(caught.value, UsageError)


def test_a_number_without_the_feature_is_refused_saying_so() -> None:
    """The user's own number without A2PSmsSender is refused with the features it has."""
    with pytest.raises(SenderError, match=r"lacks the A2PSmsSender feature \(it has: SmsSender\)"):
        judge_sender("+16505550199", NUMBERS)


def test_a_user_without_a2p_numbers_is_told_whom_to_ask() -> None:
    """With no A2P number at all, the message says to ask the administrator."""
    with pytest.raises(SenderError, match="administrator"):
        judge_sender("+16505550100", NUMBERS[2:])


def test_low_volume_tier_warns_when_the_list_is_larger() -> None:
    """A LowVolume sender warns for a list over about 6,000, with the count and the fix."""
    [warning] = registration_warnings(SENDER, "LowVolume", "Confirmed",
                                      Recipients(20_000, False))
    assert "about 6,000 messages a day" in warning
    assert "about 20,000 recipients (estimated from the file)" in warning
    assert "several days" in warning
    assert registration_warnings(SENDER, "LowVolume", "Confirmed", Recipients(5_000, True)) == ()


def test_low_volume_tier_warns_when_the_size_is_unknown() -> None:
    """Reading stdin, the size is unknown: the cap is still named."""
    [warning] = registration_warnings(SENDER, "LowVolume", None, None)
    assert "not known before it is read" in warning


def test_other_tiers_and_no_tier_give_no_cap_warning() -> None:
    """Tiers without a documented cap, or no tier at all, warn about nothing."""
    assert registration_warnings(SENDER, "Standard", "Confirmed", Recipients(10**6, True)) == ()
    assert registration_warnings(SENDER, None, None, None) == ()


def test_suspended_campaign_and_pending_number_warn() -> None:
    """A campaign carriers block and a number not in service yet are both reported."""
    pending = SenderNumber("+16505550101", 2, tuple(A2P), "Pending")
    warnings = registration_warnings(pending, None, "CampaignSuspended", None)
    assert len(warnings) == 2
    assert "CampaignSuspended" in warnings[0]
    assert "status Pending" in warnings[1]


def test_registration_read_from_the_sms_configuration() -> None:
    """registrationTier and status come from smsCampaignInfo; anything else means unknown."""
    config = {"smsCampaignInfo": {"registrationTier": "LowVolume", "status": "Confirmed"}}
    assert registration_of(config) == ("LowVolume", "Confirmed")
    assert registration_of({"phoneNumber": "+16505550100"}) == (None, None)
    assert registration_of(None) == (None, None)


def test_list_size_counted_or_estimated(tmp_path: Path) -> None:
    """A list is counted; a file's size is estimated from its lines; stdin and .gz are unknown."""
    assert estimate_recipients(["+16505550100"] * 3) == Recipients(3, True)
    small = tmp_path / "small.csv"
    small.write_text("to,name\n" + "".join(f"+1415555{i:04d},Ann\n" for i in range(10)))
    assert estimate_recipients(small) == Recipients(10, False)
    big = tmp_path / "big.txt"
    big.write_text("".join(f"+1415555{i:04d}\n" for i in range(10_000)) * 3)
    estimate = estimate_recipients(big)
    assert estimate is not None
    assert estimate.count == 30_000
    packed = tmp_path / "list.txt.gz"
    packed.write_bytes(gzip.compress(big.read_bytes()))
    assert estimate_recipients(packed) is None
    assert estimate_recipients("-") is None
    assert estimate_recipients(iter(["+16505550100"])) is None


def test_docstring_examples_hold() -> None:
    """The examples in engine/run/preflight.py's docstrings are true."""
    import doctest

    import engine.run.preflight

    result = doctest.testmod(engine.run.preflight)
    assert (result.failed, result.attempted > 0) == (0, True)


def test_a_fifo_gets_no_size_estimate_and_is_not_read(tmp_path: Path) -> None:
    """A FIFO is not sampled for an estimate: the sample would be taken from the run."""
    from tests.lists import fed_fifo

    with fed_fifo(tmp_path, b"+14155550100\n") as (fifo, rest):
        assert estimate_recipients(str(fifo)) is None
        assert rest() == b"+14155550100\n"  # still there for the reader
