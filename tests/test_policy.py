"""The one retry policy: what an answer means for each kind of request, and what comes next."""

from __future__ import annotations

import random

import pytest

from engine.core.policy import (
    FRESH_REFUSALS,
    NO_ANSWER,
    NOT_SENT,
    RETRY_AFTER_CAP,
    Action,
    Kind,
    Renew,
    Rules,
    Verdict,
    asked_wait,
    classify,
    credentials_refused,
    decide,
    holds_back,
    renewal,
    resendable,
    retry_after_note,
    unanswered,
)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_server_errors_are_ambiguous_for_a_batch_post_and_retried_for_a_get(status: int) -> None:
    """A 5xx (503 included: a gateway may answer it after the backend created the batch)
    may follow a created batch, so a POST is reconciled; a GET is just repeated."""
    assert classify(status, Kind.CREATE) is Verdict.AMBIGUOUS
    assert decide(classify(status, Kind.CREATE), 1).action is Action.RECONCILE
    assert classify(status, Kind.READ) is Verdict.RETRY
    assert decide(classify(status, Kind.READ), 1).action is Action.RETRY


def test_each_status_means_what_the_api_documents_for_a_batch_post() -> None:
    """201 done, 429 retried, 401 refreshed, 413 split, any other 4xx refused, 503
    reconciled: only the answers that say nothing was processed are certain."""
    assert [classify(s) for s in (201, 429, 503, 401, 413, 400, 404)] == [
        Verdict.OK, Verdict.RETRY, Verdict.AMBIGUOUS, Verdict.REFRESH, Verdict.SPLIT,
        Verdict.FAIL, Verdict.FAIL]


@pytest.mark.parametrize(("status", "header", "wait"), [
    (429, "7", 7.0), (429, None, 60.0),   # RingCentral: 60 s when the header is absent
    (503, "7", 7.0), (503, None, None),   # a 503 holds the budget only when it says how long
    (500, "7", None), (502, "7", None), (504, "7", None), (200, "7", None),
])
def test_which_answers_hold_the_rate_budget_back(status: int, header: str | None,
                                                 wait: float | None) -> None:
    """A 429's and a 503's Retry-After hold the group back; no other answer does."""
    assert asked_wait(status, header, 60.0) == wait
    assert holds_back(status, header) is (wait is not None)


@pytest.mark.parametrize(("status", "header", "wait"), [
    (503, "86400", RETRY_AFTER_CAP), (429, "86400", RETRY_AFTER_CAP),  # capped
    (503, "inf", 0.0), (503, "nan", 0.0), (503, "-5", 0.0),  # not a wait: 503's default
    (429, "inf", 60.0), (429, "-5", 60.0),                   # not a wait: RingCentral's 60 s
    (503, "300", 300.0), (503, "0", 0.0),
])
def test_a_retry_after_never_freezes_the_group_for_long(status: int, header: str,
                                                        wait: float) -> None:
    """A Retry-After of a day, of infinity or negative holds the group at most a few
    minutes (or the documented default), and the caller is told so it can log it."""
    assert asked_wait(status, header, 60.0) == wait
    assert RETRY_AFTER_CAP <= 600.0
    note = retry_after_note(header)
    assert (note is None) is (header in ("300", "0"))


def test_token_calls_retry_a_failing_or_limited_endpoint_and_not_a_refusal() -> None:
    """A token call creates no SMS: a 429, any 5xx and no answer are asked again; a 4xx is
    read by the caller at once."""
    assert [classify(s, Kind.TOKEN) for s in (429, 500, 502, 503, 504)] == \
        [Verdict.RETRY] * 5
    assert [classify(s, Kind.TOKEN) for s in (400, 401, 404, 415)] == [Verdict.FAIL] * 4
    assert unanswered(True, Kind.TOKEN) is unanswered(False, Kind.TOKEN) is Verdict.RETRY
    assert decide(classify(503, Kind.TOKEN), 6).action is Action.GIVE_UP


@pytest.mark.parametrize(("status", "error", "refused"), [
    (400, "invalid_grant", True), (401, "invalid_client", True),
    (400, "unauthorized_client", True), (400, "unsupported_grant_type", False),
    (401, None, False),             # an HTML 401 from a gateway names no credentials
    (502, "invalid_grant", False), (503, None, False), (404, None, False),
])
def test_only_an_oauth_refusal_of_the_credentials_means_they_are_wrong(
        status: int, error: str | None, refused: bool) -> None:
    """Exit 3 (check the credentials) only for a 400/401 naming them; else the server."""
    assert credentials_refused(status, error) is refused


def test_a_401_on_a_working_token_refreshes_and_on_a_fresh_one_logs_in_until_a_bound() -> None:
    """Expired after use: refresh. Refused before any use: a new login with the JWT. New
    tokens refused again and again: give up (the server is failing)."""
    assert renewal(True, 0, True) is Renew.REFRESH
    assert renewal(True, 0, False) is Renew.LOGIN     # no refresh token to use
    assert renewal(False, 1, True) is Renew.LOGIN
    assert renewal(False, FRESH_REFUSALS - 1, True) is Renew.LOGIN
    assert renewal(False, FRESH_REFUSALS, True) is Renew.GIVE_UP


def test_no_answer_is_ambiguous_only_for_a_request_that_went_out_and_creates() -> None:
    """No connection: certainly not sent. Sent without answer: ambiguous for a POST only."""
    assert unanswered(False, Kind.CREATE) is Verdict.RETRY
    assert unanswered(True, Kind.CREATE) is Verdict.AMBIGUOUS
    assert unanswered(True, Kind.READ) is Verdict.RETRY


def test_retries_back_off_with_jitter_and_stop_at_the_attempt_limit() -> None:
    """Each retry waits within the doubling cap; the last attempt gives up."""
    rules = Rules(max_attempts=4, backoff_initial=1.0, backoff_max=3.0)
    rng = random.Random(7)
    delays = [decide(Verdict.RETRY, n, rules=rules, rng=rng) for n in (1, 2, 3)]
    assert all(step.action is Action.RETRY for step in delays)
    assert all(0 <= s.delay <= cap for s, cap in zip(delays, (1.0, 2.0, 3.0), strict=True))
    assert decide(Verdict.RETRY, 4, rules=rules).action is Action.GIVE_UP


def test_a_rate_limited_retry_waits_no_longer_than_the_budget_holds_it() -> None:
    """Retry-After is held by the shared rate budget, so the retry adds no sleep of its own."""
    assert decide(Verdict.RETRY, 1, retry_after=60.0).delay == 0.0


def test_a_deadline_gives_up_before_the_attempts_run_out() -> None:
    """With a deadline, the elapsed time ends the retries too."""
    rules = Rules(max_attempts=100, chunk_deadline=30.0)
    assert decide(Verdict.RETRY, 2, 29.0, rules=rules).action is Action.RETRY
    assert decide(Verdict.RETRY, 2, 30.0, rules=rules).action is Action.GIVE_UP


@pytest.mark.parametrize(("kind", "gives_up"), [
    (Kind.CREATE, True), (Kind.READ, False), (Kind.TOKEN, False)])
def test_each_kind_of_request_has_one_deadline(kind: Kind, gives_up: bool) -> None:
    """A batch POST ends at retry.chunk_deadline, counted from its chunk's first request; a
    GET or a token call has no deadline: its attempts bound it."""
    rules = Rules(max_attempts=100, chunk_deadline=30.0)
    step = decide(Verdict.RETRY, 2, 3600.0, kind=kind, rules=rules)
    assert (step.action is Action.GIVE_UP) is gives_up
    assert (rules.deadline(kind) == 30.0) is gives_up
    assert decide(Verdict.RETRY, 100, 0.0, kind=kind, rules=rules).action is Action.GIVE_UP


def test_giving_up_names_the_setting_that_ran_out() -> None:
    """The note of a failed chunk says which setting ended it: the time or the attempts."""
    rules = Rules(max_attempts=3, chunk_deadline=30.0)
    assert rules.exhausted(Kind.CREATE, 2, 30.0) == "30 s passed (retry.chunk_deadline)"
    assert rules.exhausted(Kind.CREATE, 3, 1.0) == "3 attempts were made (retry.max_attempts)"
    assert rules.exhausted(Kind.CREATE, 2, 29.0) is None


@pytest.mark.parametrize(("status", "header", "honoured"), [
    (503, "30", True), (503, None, False), (502, "30", False), (500, "30", False)])
def test_retry_after_counts_on_a_503_and_no_other_5xx(status: int, header: str | None,
                                                      honoured: bool) -> None:
    """Honouring Retry-After on a status is one rule (policy.holds_back): a 503 that says
    when to come back holds its group back; a 502 or 500 with the header does not."""
    assert holds_back(status, header) is honoured
    assert (asked_wait(status, header, 60.0) == 30.0) is honoured


def test_a_401_is_refreshed_once_then_refused() -> None:
    """The one refresh a request gets; a second 401 is a refusal."""
    assert decide(Verdict.REFRESH, 1, may_refresh=True).action is Action.REFRESH
    assert decide(Verdict.REFRESH, 2).action is Action.FAIL


@pytest.mark.parametrize(("status", "code", "proved", "expected"), [
    (None, NOT_SENT, False, True),      # no connection: never went out
    (429, "CMN-429", False, True),      # the server says it did nothing
    (401, "OAU-128", False, True),      # not processed: a 401 comes before the service
    (503, "CMN-211", False, False),     # may have been created: not without proof
    (500, "HTTP-500", False, False),
    (502, "HTTP-502", True, True),      # proved absent by reconciliation
    (503, "HTTP-503", True, True),
    (None, NO_ANSWER, False, False),
    (None, NO_ANSWER, True, True),
    (None, None, True, True),           # the proof decides, not the presence of a status
    (None, None, False, False),
    (400, "CMN-101", False, False),     # refused for its content
])
def test_a_resumed_run_resends_a_failed_chunk_only_when_it_was_certainly_not_sent(
        status: int | None, code: str, proved: bool, expected: bool) -> None:
    """Resume asks the same policy as the sender: 5xx on a POST needs proof of absence."""
    assert resendable(status, code, proved) is expected


def test_a_2xx_answer_that_cannot_be_this_chunks_batch_is_named_unusable() -> None:
    """A readable 201 is taken; another chunk's batch id, a size that does not fit the chunk,
    or no id at all make it unusable (so the request is reconciled, never final)."""
    from engine.core.policy import answer_fault

    rejected = [{"index": 2}]
    assert answer_fault({"id": "b", "batchSize": 2, "rejected": rejected}, 3, set()) is None
    assert answer_fault({"id": "b", "batchSize": 3, "rejected": rejected}, 3, set()) is None
    assert answer_fault({"id": "b", "batchSize": 3}, 3, set()) is None
    assert "another chunk" in str(answer_fault({"id": "b", "batchSize": 3}, 3, {"b"}))
    assert "do not add up" in str(answer_fault({"id": "b", "batchSize": 120}, 123, set()))
    assert "do not add up" in str(answer_fault({"id": "b", "batchSize": 1, "rejected": rejected},
                                               3, set()))
    assert "no batch id" in str(answer_fault({"batchSize": 3}, 3, set()))
    assert "batchSize" in str(answer_fault({"id": "b", "batchSize": "3"}, 3, set()))
    assert "not a JSON object" in str(answer_fault("<html>", 3, set()))


def test_a_gateways_4xx_or_a_408_to_a_batch_post_is_ambiguous_and_rcs_json_refusal_final(
        ) -> None:
    """A 408, or a 403/404 that is not RingCentral's JSON error, does not prove a batch POST
    refused: reconciled. RingCentral's JSON 4xx stays final; a GET's 4xx stays a failure."""
    from engine.core.policy import Kind, Verdict, classify

    for status in (403, 404, 400):
        assert classify(status, from_rc=False) is Verdict.AMBIGUOUS
        assert classify(status, from_rc=True) is Verdict.FAIL
        assert classify(status, Kind.READ, from_rc=False) is Verdict.FAIL
    assert classify(408, from_rc=True) is Verdict.AMBIGUOUS
    assert classify(429, from_rc=False) is Verdict.RETRY
    assert classify(401, from_rc=False) is Verdict.REFRESH
    assert classify(413, from_rc=False) is Verdict.SPLIT


def test_a_201s_rejections_must_name_the_chunks_own_recipients() -> None:
    """rejected[] of another request (another number at an index), an index outside the
    chunk or repeated: unusable; the chunk's own, in any number format, is taken."""
    from engine.core.policy import rejected_fault

    tos = ["+14155550100", "+14155550101"]
    assert rejected_fault([{"index": 2, "to": "14155550101"}], tos) is None
    assert rejected_fault([{"index": 2}], tos) is None
    assert "names" in str(rejected_fault([{"index": 2, "to": "+14155550199"}], tos))
    # the spec's shape (RejectedRecipientResponseResource.to is an array)
    assert rejected_fault([{"index": 2, "to": ["+14155550101"]}], tos) is None
    assert "names" in str(rejected_fault([{"index": 2, "to": ["+14155550199"]}], tos))
    assert "outside" in str(rejected_fault([{"index": 3}], tos))
    assert "outside" in str(rejected_fault([{"index": "1"}], tos))
    assert "repeats" in str(rejected_fault([{"index": 1}, {"index": 1}], tos))


def test_a_201_for_a_batch_created_before_the_request_is_unusable() -> None:
    """Created before the request went out (calibrated clock): another request's answer;
    without a calibrated bound the stamp is not judged."""
    from datetime import UTC, datetime

    from engine.core.policy import answer_fault

    body = {"id": "b", "batchSize": 3, "creationTime": "2026-11-25T12:00:00+00:00"}
    at = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()
    said = str(answer_fault(body, 3, set(), at + 10))
    assert "before the earliest this request could have made one (2026-11-25T12:00:10" in said
    assert answer_fault(body, 3, set(), at - 3) is None
    assert answer_fault(body, 3, set(), None) is None
