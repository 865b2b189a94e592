"""Templates: header names with spaces, defaults, literal braces, and the refusals."""

from __future__ import annotations

import pytest

from engine.errors import UsageError
from engine.reading.templates import Field, Missing, parse


def test_fields_defaults_and_braces_render() -> None:
    """{First Name} and {name|there} render; {{ }} are literal braces."""
    template = parse("{{Hi}} {First Name|there}, code {code}")
    assert template.render({"First Name": "Ann", "code": 7}) == "{Hi} Ann, code 7"
    assert template.render({"First Name": "  ", "code": "1"}) == "{Hi} there, code 1"


def test_an_empty_or_missing_field_without_default_is_reported() -> None:
    """No default: an empty value and a missing key are told apart."""
    template = parse("Hi {name}")
    assert template.render({"name": ""}) == Missing(Field("name", None), empty=True)
    assert template.render({}) == Missing(Field("name", None), empty=False)
    assert "{name} is empty" in Missing(Field("name", None), empty=True).message()


@pytest.mark.parametrize(("template", "message"), [
    ("Hi {name!r:>10}", r"conversion or format spec \(!r:>10\).*write \{name\}"),
    ("Total {total:,.2f}", r"write \{total\}"),
    ("Hi {}", "has no name"),
    ("Hi }", "lone '}'"),
])
def test_python_format_syntax_is_refused_with_the_plain_form(template: str, message: str
                                                             ) -> None:
    """Conversions, specs, empty fields and lone braces are refused naming the fix."""
    with pytest.raises(UsageError, match=message):
        parse(template)


def test_unknown_fields_are_listed_against_a_header() -> None:
    """The fields a header lacks, in template order."""
    assert parse("{a} {B c} {d|x}").unknown(["a"]) == [Field("B c", None), Field("d", "x")]
