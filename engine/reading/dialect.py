"""CSV dialect detection: which delimiter splits the header into a to-column, the columns the
records use, and the "no column named" message with the fix the header suggests."""

from __future__ import annotations

import csv
import re

from engine.errors import InputError
from engine.reading import templates
from engine.reading.options import ReadOptions

# Delimiters tried, in order, when the header has none of the expected columns with a comma.
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Header names that usually hold the phone number, for the "no column named" hint.
_PHONE_LIKE = re.compile(r"phone|mobile|cell|number|msisdn|tel|sms|\bto\b", re.IGNORECASE)


def _header_names(header: str, delimiter: str) -> list[str]:
    rows = list(csv.reader([header.rstrip("\r\n")], delimiter=delimiter))
    return [name.strip() for name in rows[0]] if rows else []


def choose_delimiter(header: str, options: ReadOptions) -> tuple[str, list[str]]:
    """The delimiter (given, tab for .tsv, else comma) and the header's column names; when the
    to-column is not among them and no delimiter was given, the first of semicolon, tab and
    pipe that splits the header into a to-column (Excel writes semicolons where the decimal
    mark is a comma). Raises an InputError naming the likely fix."""
    given = options.delimiter
    if given is None and options.source.lower().removesuffix(".gz").endswith(".tsv"):
        given = "\t"
    names = _header_names(header, given or ",")
    if options.to_column in names:
        return given or ",", names
    if given is None:
        for delimiter in DELIMITERS[1:]:
            other = _header_names(header, delimiter)
            if options.to_column in other:
                return delimiter, other
    raise InputError(_no_to_column(header, names, given, options))


def _no_to_column(header: str, names: list[str], given: str | None, options: ReadOptions
                  ) -> str:
    """The "no column named" message, with the fix the header suggests."""
    delimiter = given
    if delimiter is None:  # the delimiter that splits the header into the most columns
        delimiter = max(DELIMITERS, key=lambda d: len(_header_names(header, d)))
        names = _header_names(header, delimiter)
    kind = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    phone_like = [n for n in names if _PHONE_LIKE.search(n)]
    fixes = []
    if phone_like:
        fixes.append(f"--to-column {_shell(phone_like[0])} (the column that looks like the "
                     "numbers)")
    else:
        fixes.append("--to-column NAME with the column that holds the numbers")
    if len(names) == 1:
        fixes.append("--delimiter CHAR if the columns are separated by another character, or "
                      "--format lines for one number per line")
    return (f"{options.source}, line 1: no column named {options.to_column!r} in the header, "
            f"read as {kind}-separated: {', '.join(map(repr, names))}. Pass "
            + "; or ".join(fixes) + ".")


def _shell(name: str) -> str:
    return name if re.fullmatch(r"[\w.+-]+", name) else f"'{name}'"


class CsvLayout:
    def __init__(self, header: str, options: ReadOptions) -> None:
        self.delimiter, names = choose_delimiter(header, options)
        self.width = len(names)
        self.names = names
        self.to_index = names.index(options.to_column)
        self.text_index = names.index(options.text_column) if options.text_column in names else -1
        if self.text_index < 0 and options.text_column_required:
            raise InputError(f"{options.source}, line 1: no column named "
                             f"{options.text_column!r} in the header. Pass --text-column NAME.")
        self.wants_fields = options.template is not None
        self.zone_index = -1
        if options.tz_column is not None:
            if options.tz_column not in names:
                raise InputError(
                    f"{options.source}, line 1: no column named {options.tz_column!r} "
                    f"(--tz-column) in the header ({', '.join(names)}). Name the column that "
                    "holds each recipient's IANA time zone exactly as the header writes it, "
                    "or leave --tz-column out to place recipients by their numbers.")
            self.zone_index = names.index(options.tz_column)
        if options.template is not None:
            unknown = templates.parse(options.template).unknown(names)
            if unknown:
                raise InputError(
                    f"{options.source}, line 1: the template's field {unknown[0]} is not a "
                    f"column of the header ({', '.join(names)}). Name a column exactly as the "
                    "header writes it, e.g. {" + (names[-1] if names else "name") + "}.")
