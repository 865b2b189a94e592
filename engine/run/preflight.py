"""The pre-flight: before the first POST, check what would waste a whole campaign.

1. The credentials log in (an AuthError otherwise).
2. The sender belongs to the user and has the ``A2PSmsSender`` feature, as the guide's own
   sample checks first: ``GET /restapi/v1.0/account/~/extension/~/phone-number``, every page
   (reference/ringcentral-preflight-openapi.json, listExtensionPhoneNumbers).
3. Where RingCentral exposes it, the number's SMS registration: ``GET .../phone-number/{id}/
   sms-configuration`` (smsConfigurationInfo) gives the campaign's ``registrationTier`` and
   status. A ``LowVolume`` campaign allows about 6,000 messages a day; a larger list gets a
   warning, as does a suspended, expired or failed campaign. When the endpoint answers 4xx the
   tier is reported unknown and nothing is refused.

The decisions (``judge_sender``, ``registration_warnings``) are pure; ``run_preflight`` is the
thin loop that fetches what they need through the ApiClient.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import RequestRejectedError, SenderError
from engine.rc.client import ApiClient
from engine.run.inputs import is_stream
from engine.schedule.caps import default_daily_cap

A2P_FEATURE = "A2PSmsSender"
# Campaign states in which carriers refuse or filter the traffic (CampaignStatusInfo).
BAD_CAMPAIGN = frozenset({"SubmitFailed", "CampaignSuspended", "CampaignExpired",
                          "PreVetFailed", "DeleteRequested"})
PAGE_SIZE = 1000
MAX_PAGES = 1000  # a bound on the loop, far beyond any real number list
SAMPLE_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class SenderNumber:
    """The sender as the account lists it."""

    number: str
    id: int | None
    features: tuple[str, ...]
    status: str | None


@dataclass(frozen=True, slots=True)
class Recipients:
    """How many recipients the list holds, and whether that is a count or an estimate."""

    count: int
    exact: bool

    def describe(self) -> str:
        return f"{self.count:,} recipients" if self.exact else \
            f"about {self.count:,} recipients (estimated from the file)"


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the pre-flight found: the sender is usable; ``warnings`` say what may still hurt."""

    sender: SenderNumber
    registration_tier: str | None
    campaign_status: str | None
    daily_cap: int | None
    recipients: Recipients | None
    warnings: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"from": self.sender.number, "phoneNumberId": self.sender.id,
                "features": list(self.sender.features), "status": self.sender.status,
                "registrationTier": self.registration_tier,
                "campaignStatus": self.campaign_status, "dailyCap": self.daily_cap,
                "recipients": None if self.recipients is None else self.recipients.count,
                "recipientsExact": None if self.recipients is None else self.recipients.exact,
                "warnings": list(self.warnings)}


def judge_sender(sender: str, records: Sequence[Mapping[str, Any]]) -> SenderNumber:
    """The listed number that is ``sender`` and may send A2P SMS, or a SenderError naming
    the user's A2P numbers.

    >>> judge_sender("+16505550100", [{"phoneNumber": "+16505550100", "id": 7,
    ...                                "features": ["A2PSmsSender"]}]).id
    7
    """
    a2p = [r.get("phoneNumber") for r in records if A2P_FEATURE in _features(r)]
    a2p_numbers = ", ".join(str(n) for n in a2p) or "none"
    fix = "Pass one of them as sender= / --from." if a2p else (
        "This user has no number with the A2PSmsSender feature: ask your RingCentral "
        "administrator to enable High Volume SMS on one, or log in as its user.")
    for record in records:
        if record.get("phoneNumber") != sender:
            continue
        features = _features(record)
        if A2P_FEATURE not in features:
            raise SenderError(
                f"the number {sender} belongs to this user but lacks the A2PSmsSender feature "
                f"(it has: {', '.join(features) or 'no features'}), so High Volume SMS would "
                f"refuse every batch; your A2P numbers are: {a2p_numbers}. {fix}")
        number_id = record.get("id")
        status = record.get("status")
        return SenderNumber(sender, number_id if isinstance(number_id, int) else None,
                            features, status if isinstance(status, str) else None)
    raise SenderError(f"the number {sender} is not one of this account's numbers with the "
                      f"A2PSmsSender feature; your A2P numbers are: {a2p_numbers}. {fix}")


def _features(record: Mapping[str, Any]) -> tuple[str, ...]:
    features = record.get("features")
    return tuple(f for f in features if isinstance(f, str)) if isinstance(features, list) else ()


def registration_of(config: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(registrationTier, campaign status) from an SmsConfigurationResource, when present."""
    campaign = config.get("smsCampaignInfo") if isinstance(config, Mapping) else None
    if not isinstance(campaign, Mapping):
        return None, None
    tier, status = campaign.get("registrationTier"), campaign.get("status")
    return (tier if isinstance(tier, str) else None, status if isinstance(status, str) else None)


def registration_warnings(sender: SenderNumber, tier: str | None, campaign: str | None,
                          recipients: Recipients | None, capped: int | None = None
                          ) -> tuple[str, ...]:
    """What may still hurt a campaign from a usable sender: a daily cap smaller than the list
    (or a list of unknown size), a campaign carriers refuse, a number not yet in service.

    >>> s = SenderNumber("+16505550101", 1, ("A2PSmsSender",), "Normal")
    >>> registration_warnings(s, "LowVolume", "Confirmed", Recipients(20_000, True))[0][:60]
    '+16505550101 is registered LowVolume, which allows about 6,0'
    """
    warnings = []
    cap = default_daily_cap(tier)
    spread = capped is not None and cap is not None and capped <= cap  # a day's cap holds it
    if cap is not None and not spread and (recipients is None or recipients.count > cap):
        size = "the list's size is not known before it is read" if recipients is None else \
            f"this list holds {recipients.describe()}"
        warnings.append(f"{sender.number} is registered {tier}, which allows about {cap:,} "
                        f"messages a day, and {size}: carriers will hold or drop the rest. "
                        f"Spread the list over several days (--daily-cap {cap}, or any "
                        "schedule flag such as --quiet-hours tcpa, which then caps each day at "
                        "the tier's figure), or register the campaign for a higher volume "
                        "tier.")
    if campaign in BAD_CAMPAIGN:
        warnings.append(f"the SMS campaign of {sender.number} is {campaign}: carriers block or "
                        "filter its messages. Fix the registration in the RingCentral admin "
                        "portal before sending.")
    if sender.status not in (None, "Normal"):
        warnings.append(f"{sender.number} has status {sender.status}, not Normal: it may not "
                        "be ready to send yet (a port or a temporary number).")
    return tuple(warnings)


def estimate_recipients(source: Any) -> Recipients | None:
    """The list's size: counted for a sized collection, estimated for an uncompressed file
    from the newlines in its first 64 KiB, unknown (None) for stdin, .gz and streams."""
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        return Recipients(len(source), True)
    if not isinstance(source, str | os.PathLike) or is_stream(str(source)):
        return None  # a pipe's 64 KiB sample would be taken from the run
    path = Path(source)
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            sample = stream.read(SAMPLE_BYTES)
    except OSError:
        return None
    if sample[:2] == b"\x1f\x8b" or not sample:
        return None
    header = 1 if sample[:1].isalpha() else 0  # a CSV header; numbers and JSON start otherwise
    if len(sample) == size:
        lines = sample.count(b"\n") + (not sample.endswith(b"\n"))
        return Recipients(max(lines - header, 0), False)
    whole = sample[:sample.rfind(b"\n") + 1]  # whole lines only: a cut one would skew the mean
    if not whole:
        return None
    return Recipients(max(round(size * whole.count(b"\n") / len(whole)) - header, 0), False)


async def list_numbers(client: ApiClient, per_page: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Every number of the user's extension, page after page."""
    path = f"{client.account}/extension/~/phone-number"
    records: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        answer = await _get(client, path, {"page": page, "perPage": per_page},
                            "list this user's phone numbers")
        found = answer.get("records") if isinstance(answer, dict) else None
        records += [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
        paging = answer.get("paging") if isinstance(answer, dict) else None
        total = paging.get("totalPages") if isinstance(paging, dict) else None
        navigation = answer.get("navigation") if isinstance(answer, dict) else None
        more = isinstance(navigation, dict) and "nextPage" in navigation
        if not (more or (isinstance(total, int) and page < total)):
            break
    return records


async def _get(client: ApiClient, path: str, params: Mapping[str, Any], what: str) -> Any:
    try:
        return await client.get_json(path, params)
    except RequestRejectedError as exc:
        if exc.status in (401, 403):
            raise SenderError(f"the pre-flight could not {what} ({exc}): the app needs the "
                              "ReadAccounts permission to check the sender. Add it to the app, "
                              "or skip the check with --no-preflight.") from exc
        raise


async def sms_configuration(client: ApiClient, number_id: int) -> dict[str, Any] | None:
    """The number's SmsConfigurationResource, or None where the account does not expose it."""
    path = f"{client.account}/extension/~/phone-number/{number_id}/sms-configuration"
    try:
        answer = await client.get_json(path)
    except RequestRejectedError:
        return None
    return answer if isinstance(answer, dict) else None


async def run_preflight(client: ApiClient, sender: str, recipients: Recipients | None = None,
                        per_page: int = PAGE_SIZE, capped: int | None = None) -> Preflight:
    """Log in, find the sender among the user's A2P numbers and read its registration;
    raises AuthError or SenderError when the campaign cannot work. ``capped``: the daily cap
    a scheduled send holds each day; no more than the tier's, a list larger than the tier's
    day is no warning."""
    await client.bearer()
    number = judge_sender(sender, await list_numbers(client, per_page))
    config = await sms_configuration(client, number.id) if number.id is not None else None
    tier, campaign = registration_of(config)
    return Preflight(number, tier, campaign, default_daily_cap(tier), recipients,
                     registration_warnings(number, tier, campaign,
                                           recipients, capped))
