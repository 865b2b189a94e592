"""RingCentral's error table: what each code means and whether a retry is worth it."""

from __future__ import annotations

from engine.rc.errorcodes import TABLE, describe


def test_error_table_marks_permanent_and_temporary_failures() -> None:
    """Opt-outs and invalid numbers are not worth retrying, a provisioning error is, and a
    code that may hide a delivery is not (never text anyone twice)."""
    assert describe("SMS-CAR-413")[1] is False
    assert describe("SMS-UP-410")[1] is False
    assert describe("SMS-CAR-411")[1] is False
    assert describe("SMS-CAR-412")[1] is False
    assert describe("SMS-RC-503")[1] is True
    assert describe("SMS-CAR-104")[1] is False
    assert "not in RingCentral's documented table" in describe("SMS-XX-999")[0]
    assert all(entry.description for entry in TABLE.values())
