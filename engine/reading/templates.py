"""Per-recipient texts from a template: ``{First Name}`` fields named exactly as the CSV header
or JSON key, with a default for an empty or missing value written ``{name|there}``.

A literal brace is written ``{{`` or ``}}``. Python's conversions and format specs
(``{name!r:>10}``) are not part of the syntax: a text is words, not formatted values, so the
parser refuses them with the plain form to use instead. Every function here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import UsageError

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# A Python replacement field such as {name!r}, {name:>10}, {total:,.2f}: refused with the fix.
_PYTHON_FIELD = re.compile(r"([A-Za-z_]\w*)(?:![rsa])?(?::[^\s|]*)?")
SYNTAX = ("{Column Name} for a value, {name|default} for a value with a default, {{ and }} "
          "for braces")


@dataclass(frozen=True, slots=True)
class Field:
    """One field: the header name or JSON key, and the text used when it is empty or missing
    (None: such a record is rejected with its line)."""

    name: str
    default: str | None

    def __str__(self) -> str:
        return "{" + self.name + ("" if self.default is None else "|" + self.default) + "}"


@dataclass(frozen=True, slots=True)
class Missing:
    """Why a record has no text: the field it lacks, and whether it was there but empty."""

    field: Field
    empty: bool

    def message(self) -> str:
        state = "is empty" if self.empty else "is missing"
        return (f"the template's field {{{self.field.name}}} {state} in this record; fill it, "
                f"or give the template a default as {{{self.field.name}|there}}")


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))

    def unknown(self, names: list[str]) -> list[Field]:
        """The fields naming none of ``names`` (a CSV header), in template order."""
        known = set(names)
        return [f for f in self.fields if f.name not in known]

    def render(self, values: Mapping[str, Any]) -> str | Missing:
        """The text for one record's values, or which field it lacks."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name)
            shown = "" if value is None else value if isinstance(value, str) else str(value)
            if not shown.strip():
                if part.default is None:
                    return Missing(part, part.name in values)
                shown = part.default
            out.append(shown)
        return "".join(out)


def parse(template: str) -> Template:
    """A template checked and split into text and fields, or a UsageError naming the fix.

    >>> parse("Hi {First Name|there}, {{code}}").parts
    ('Hi ', Field(name='First Name', default='there'), ', {code}')
    """
    parts: list[str | Field] = []
    text: list[str] = []
    at = 0
    for match in _TOKEN.finditer(template):
        text.append(template[at:match.start()])
        at = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            text.append(token[0])
            continue
        if token in ("{", "}"):
            raise UsageError(f"template {template!r} has a lone {token!r} at character "
                             f"{match.start() + 1}. Write a literal brace as {token * 2}; "
                             f"fields are written {SYNTAX.split(',')[0]}.")
        if text:
            parts.append("".join(text))
            text = []
        parts.append(_field(match.group(1)))
    text.append(template[at:])
    if "".join(text):
        parts.append("".join(text))
    return Template(template, tuple(parts))


def _field(content: str) -> Field:
    name, bar, default = content.partition("|")
    name = name.strip()
    if not name:
        raise UsageError(f"template field {{{content}}} has no name. Use {SYNTAX}.")
    python = _PYTHON_FIELD.fullmatch(name)
    if python and python.group(0) != python.group(1):
        base = python.group(1)
        raise UsageError(f"template field {{{content}}} uses a Python conversion or format spec "
                         f"({name[len(base):]}), which templates do not take: write {{{base}}}, "
                         f"or {{{base}|default}} for a default. Syntax: {SYNTAX}.")
    return Field(name, default if bar else None)
