"""The user's phone numbers and their SMS configuration, as the pre-flight reads them:
listExtensionPhoneNumbers and smsConfigurationInfo of reference/ringcentral-preflight-openapi.json
(GetExtensionPhoneNumbersResponse with enumerated paging, SmsConfigurationResource)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.simulator.replies import json_response, not_found
from engine.simulator.settings import SimulatorSettings
from engine.simulator.state import SIMULATOR
from engine.simulator.store import invalid_parameter

EXTENSION = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/phone-number"
A2P_FEATURES = ["CallerId", "SmsSender", "A2PSmsSender"]
MAX_PAGE = 1000  # EnumeratedPagingModel.page maximum: a page past it is never echoed
FIRST_ID = 1_290_000_001  # phone number ids are int64 in the spec; any stable values do


def number_records(settings: SimulatorSettings, base: str) -> list[dict[str, Any]]:
    """Every number of the user: the A2P senders first, then the others."""
    numbers = [(n, A2P_FEATURES) for n in settings.senders] + \
        [(n, ["CallerId", "SmsSender"]) for n in settings.other_numbers]
    return [{
        "uri": f"{base}/{FIRST_ID + i}",
        "id": FIRST_ID + i,
        "phoneNumber": number,
        "country": {"id": "1", "uri": f"{base.split('/account/')[0]}/dictionary/country/1",
                    "name": "United States"},
        "paymentType": "Local",
        "primary": i == 0,
        "status": "Normal",
        "type": "VoiceFax",
        "usageType": "DirectNumber",
        "features": list(features),
    } for i, (number, features) in enumerate(numbers)]


def page_params(request: web.Request) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("perPage", "100"))
    except ValueError:
        raise invalid_parameter("page") from None
    if not 1 <= page <= MAX_PAGE:  # EnumeratedPagingModel: page from 1 to 1000
        raise invalid_parameter("page", f"Use a page from 1 to {MAX_PAGE}.")
    if per_page < 1:
        raise invalid_parameter("perPage", "Use a positive perPage.")
    return page, min(per_page, 1000)  # EnumeratedPagingModel: perPage at most 1000


def page_view(records: list[dict[str, Any]], page: int, per_page: int, url: str
              ) -> dict[str, Any]:
    """One page of a GetExtensionPhoneNumbersResponse, with its navigation links."""
    total_pages = max(1, -(-len(records) // per_page))
    start = (page - 1) * per_page
    shown = records[start:start + per_page]

    def link(n: int) -> dict[str, str]:
        return {"uri": f"{url}?page={n}&perPage={per_page}"}

    paging: dict[str, Any] = {"page": page, "perPage": per_page, "totalPages": total_pages,
                              "totalElements": len(records)}
    if shown:
        paging |= {"pageStart": start, "pageEnd": start + len(shown) - 1}
    navigation = {"firstPage": link(1), "lastPage": link(total_pages)}
    if page < total_pages:
        navigation["nextPage"] = link(page + 1)
    if page > 1:
        navigation["previousPage"] = link(min(page - 1, total_pages))
    return {"uri": link(page)["uri"], "records": shown, "navigation": navigation,
            "paging": paging}


def url_of(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}{request.path}"


def sms_configuration_view(settings: SimulatorSettings, record: dict[str, Any]
                           ) -> dict[str, Any]:
    """SmsConfigurationResource: campaign and brand only for numbers with a configured tier."""
    view: dict[str, Any] = {"phoneNumberId": str(record["id"]),
                            "phoneNumber": record["phoneNumber"]}
    tier = dict(settings.registration_tiers).get(record["phoneNumber"])
    if tier:
        view["smsCampaignInfo"] = {"id": f"C{record['id']}", "status": "Confirmed",
                                   "registrationTier": tier, "useCases": ["Marketing"]}
        view["smsBrandInfo"] = {"id": "BSIMULATOR", "status": "Confirmed"}
    return view


async def list_phone_numbers(request: web.Request) -> web.Response:
    records = _own_numbers(request)
    if records is None:
        return not_found("extensionId")
    page, per_page = page_params(request)
    return json_response(page_view(records, page, per_page, url_of(request)))


async def sms_configuration(request: web.Request) -> web.Response:
    records = _own_numbers(request) or []
    wanted = request.match_info["phoneNumberId"]
    found = [r for r in records if str(r["id"]) == wanted]
    if not found:
        return not_found("phoneNumberId")
    return json_response(sms_configuration_view(request.app[SIMULATOR].settings, found[0]))


def _own_numbers(request: web.Request) -> list[dict[str, Any]] | None:
    """The user's numbers, or None when the path names another extension."""
    sim = request.app[SIMULATOR]
    if request.match_info["extensionId"] not in ("~", sim.settings.owner_id):
        return None
    base = f"{request.scheme}://{request.host}" + EXTENSION.format(
        accountId=sim.settings.account_id, extensionId=sim.settings.owner_id)
    return number_records(sim.settings, base)
