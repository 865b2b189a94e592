"""The user's phone numbers and SMS configuration, as the official spec shapes them."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.conftest import SENDER, MakeSimulator, bearer, login
from tests.openapi import PHONE_NUMBERS, PREFLIGHT_SPEC, assert_valid

LIST = PHONE_NUMBERS.replace("{accountId}", "~").replace("{extensionId}", "~")


async def get(http: aiohttp.ClientSession, url: str, token: dict[str, Any], path: str,
              params: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with http.get(f"{url}{path}", headers=bearer(token), params=params) as response:
        return response.status, await response.json()


async def test_numbers_list_senders_with_the_a2p_feature(make_simulator: MakeSimulator,
                                                         http: aiohttp.ClientSession) -> None:
    """Senders carry A2PSmsSender, other numbers do not; the answer matches the spec."""
    running = await make_simulator(other_numbers=("+16505550199",))
    token = await login(http, running.url)
    status, body = await get(http, running.url, token, LIST)
    assert status == 200
    assert_valid(body, PHONE_NUMBERS, "get", 200, PREFLIGHT_SPEC)
    features = {r["phoneNumber"]: r["features"] for r in body["records"]}
    assert "A2PSmsSender" in features[SENDER]
    assert "A2PSmsSender" not in features["+16505550199"]
    assert body["paging"]["totalPages"] == 1
    assert "nextPage" not in body["navigation"]


async def test_numbers_page_by_page(make_simulator: MakeSimulator,
                                    http: aiohttp.ClientSession) -> None:
    """2,500 numbers come as three pages of at most 1,000, each valid, linked by nextPage."""
    others = tuple(f"+1415555{i:04d}" for i in range(2_498))
    running = await make_simulator(other_numbers=others)
    token = await login(http, running.url)
    seen: list[str] = []
    for page in (1, 2, 3):
        status, body = await get(http, running.url, token, LIST,
                                 {"page": page, "perPage": 5000})
        assert status == 200
        assert_valid(body, PHONE_NUMBERS, "get", 200, PREFLIGHT_SPEC)
        assert body["paging"]["perPage"] == 1000
        assert ("nextPage" in body["navigation"]) == (page < 3)
        seen += [r["phoneNumber"] for r in body["records"]]
    assert len(seen) == len(set(seen)) == 2_500


async def test_sms_configuration_gives_the_registration_tier(
        make_simulator: MakeSimulator, http: aiohttp.ClientSession) -> None:
    """A number with a configured tier shows it in smsCampaignInfo; the answer matches the spec."""
    running = await make_simulator(registration_tiers=((SENDER, "LowVolume"),))
    token = await login(http, running.url)
    _, listing = await get(http, running.url, token, LIST)
    ids = {r["phoneNumber"]: r["id"] for r in listing["records"]}
    path = f"{PHONE_NUMBERS}/{{phoneNumberId}}/sms-configuration"
    status, body = await get(http, running.url, token, f"{LIST}/{ids[SENDER]}/sms-configuration")
    assert status == 200
    assert_valid(body, path, "get", 200, PREFLIGHT_SPEC)
    assert body["smsCampaignInfo"]["registrationTier"] == "LowVolume"
    assert body["phoneNumber"] == SENDER
    other = next(n for n in ids if n != SENDER)
    _, plain = await get(http, running.url, token, f"{LIST}/{ids[other]}/sms-configuration")
    assert_valid(plain, path, "get", 200, PREFLIGHT_SPEC)
    assert "smsCampaignInfo" not in plain


async def test_unknown_number_or_extension_is_not_found(make_simulator: MakeSimulator,
                                                        http: aiohttp.ClientSession) -> None:
    """Another extension or an unknown number id answers 404 in the spec's error shape."""
    running = await make_simulator()
    token = await login(http, running.url)
    status, body = await get(http, running.url, token, LIST.replace("/extension/~", "/extension/9"))
    assert status == 404
    assert_valid(body, PHONE_NUMBERS, "get", 404, PREFLIGHT_SPEC)
    status, body = await get(http, running.url, token, f"{LIST}/1/sms-configuration")
    assert status == 404
    assert body["errors"][0]["errorCode"] == "CMN-102"
