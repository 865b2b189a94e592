"""RingCentral's SMS error codes: what each means, and whether sending again is worth it.

From RingCentral's published SMS error-code table (developers.ringcentral.com, "SMS and MMS
error codes") and the High Volume SMS best-practices page, which says to read the message
store and remove numbers that fail with SMS-UP-410, SMS-CAR-411 and SMS-CAR-412. The
reference/ guide pages carry only SMS-RC-410 (a rejected recipient) and the spec's example
SMS-RC-503; the rest of this table is quoted from the public page, not from reference/.

``retryable`` means a later send of the same text to the same number may well succeed with
nothing changed: a temporary fault on RingCentral's or a carrier's side. A permanent fault
(invalid, unallocated or landline number, opt-out, content blocked as spam) fails again.
Codes that leave the fate unknown (SMS-CAR-104, SMS-CAR-199) are *not* retryable: the message
may have been delivered, and this engine never risks texting anyone twice.
"""

from __future__ import annotations

from dataclasses import dataclass

SENDING_FAILED, DELIVERY_FAILED = "SendingFailed", "DeliveryFailed"


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    description: str
    retryable: bool
    status: str  # the messageStatus this code comes with in the message store


TABLE: dict[str, ErrorCode] = {e.code: e for e in (
    ErrorCode("SMS-UP-410", "Destination number invalid, unallocated, or does not support "
              "this kind of messaging", False, SENDING_FAILED),
    ErrorCode("SMS-UP-430", "Spam content detected by the SMS gateway", False, SENDING_FAILED),
    ErrorCode("SMS-UP-431", "Number blacklisted for spam", False, SENDING_FAILED),
    ErrorCode("SMS-UP-500", "General SMS gateway error; the upstream is malfunctioning",
              True, SENDING_FAILED),
    ErrorCode("SMS-CAR-104", "Carrier has not reported delivery status: status unknown, may "
              "have been delivered", False, DELIVERY_FAILED),
    ErrorCode("SMS-CAR-199", "Carrier reports unknown message status: may have been "
              "delivered", False, DELIVERY_FAILED),
    ErrorCode("SMS-CAR-400", "Carrier does not support this kind of messaging", False,
              DELIVERY_FAILED),
    ErrorCode("SMS-CAR-411", "Destination number invalid, unallocated, or does not support "
              "this kind of messaging (for example a landline)", False, DELIVERY_FAILED),
    ErrorCode("SMS-CAR-412", "Destination subscriber unavailable", False, DELIVERY_FAILED),
    ErrorCode("SMS-CAR-413", "Destination subscriber has opted out, or has not opted in",
              False, DELIVERY_FAILED),
    ErrorCode("SMS-CAR-430", "Spam content detected by the mobile carrier", False,
              DELIVERY_FAILED),
    ErrorCode("SMS-CAR-431", "Number blacklisted for spam by the carrier", False,
              DELIVERY_FAILED),
    ErrorCode("SMS-CAR-432", "Too many messages to the same destination", True,
              DELIVERY_FAILED),
    ErrorCode("SMS-CAR-500", "Carrier reported a general service failure", True,
              DELIVERY_FAILED),
    ErrorCode("SMS-RC-410", "The recipient number is invalid", False, SENDING_FAILED),
    ErrorCode("SMS-RC-413", "The recipient number has opted out or is blocked", False,
              SENDING_FAILED),
    ErrorCode("SMS-RC-500", "General RingCentral internal error", True, SENDING_FAILED),
    ErrorCode("SMS-RC-501", "RingCentral sent a bad upstream request", True, SENDING_FAILED),
    ErrorCode("SMS-RC-503", "RingCentral provisioning error (the sender number is not set up "
              "upstream); retry once it is fixed", True, SENDING_FAILED),
)}


# The codes of a message to an opted-out (sender, recipient) pair: RingCentral accepts it in
# the 201 and fails it when processed (SendingFailed SMS-RC-413, per its v2 error handling
# page), or the carrier does (DeliveryFailed SMS-CAR-413). 'a2p outcomes' calls them opted-out.
OPT_OUT_CODES = frozenset({"SMS-RC-413", "SMS-CAR-413"})


def describe(code: str | None) -> tuple[str, bool]:
    """(short description, worth retrying) for an error code; unknown codes are not retried.

    >>> describe("SMS-CAR-413")
    ('Destination subscriber has opted out, or has not opted in', False)
    """
    if not code:
        return "", False
    entry = TABLE.get(code)
    if entry is None:
        return f"{code}: not in RingCentral's documented table", False
    return entry.description, entry.retryable
