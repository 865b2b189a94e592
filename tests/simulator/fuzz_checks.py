"""A schemathesis check for the fuzz test (SCHEMATHESIS_HOOKS=tests.simulator.fuzz_checks):
every status is one the spec documents for the operation, or one RingCentral's gateway gives
to any call and the subsets leave out, in RingCentral's error shape.

The spec subsets document only some statuses per operation (the phone-number listing: 200
and 404), while RingCentral's gateway answers any call 400 ``CMN-101`` for a parameter it
refuses, 401 for a bad token or client, 404 ``CMN-102`` for an unknown account or resource,
405 for a method the path does not have, 413 for a body over the limit, and 429 when
throttled. Those must come with an error body
(``errorCode``/``message`` or OAuth's ``error``), never a bare page or a 5xx.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

GATEWAY = frozenset({400, 401, 404, 405, 413, 429})


@schemathesis.check
def documented_or_gateway_status(ctx: Any, response: Any, case: Any) -> None:
    status = response.status_code
    documented = {str(code) for code in case.operation.responses.status_codes}
    if str(status) in documented or "default" in documented:
        return
    assert status in GATEWAY, f"undocumented status {status} (documented: {sorted(documented)})"
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    shaped = isinstance(body, dict) and (
        "error" in body or (isinstance(body.get("errors"), list) and body["errors"]
                            and all("errorCode" in e and "message" in e for e in body["errors"])))
    assert shaped, f"{status} without RingCentral's error shape: {response.content[:200]!r}"
