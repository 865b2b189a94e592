"""How to read one input (``ReadOptions``), as a journal header records it so a resume or
'a2p outcomes' reads the input the same way, and where a resumed read starts (``StartAt``)."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from engine.errors import UsageError
from engine.reading import phone, templates
from engine.reading.suppressed import Suppressed

MAX_TEXT = 1000  # MessageCreateRequest.text maxLength in the spec
# --dedupe: "number" keeps each recipient number's first record whatever its text; "message"
# keeps the first of each (number, text), the only rule before both existed.
Dedupe = Literal["number", "message"]
DEDUPE_RULES: tuple[Dedupe, ...] = get_args(Dedupe)
# "auto": by the file's name, else its first line; the others are engine.reading.FORMATS
InputFormat = Literal["auto", "csv", "jsonl", "lines"]


@dataclass(frozen=True, slots=True)
class StartAt:
    """Where a resumed read begins: the file's first line (format and CSV header), then the
    byte offset, input position and line number of the first record to read."""

    header: bytes
    offset: int
    position: int
    line: int


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read one input. ``batch_text`` is the request-level text, if any."""

    source: str = "<input>"
    format: InputFormat = "auto"
    to_column: str = "to"
    text_column: str = "text"
    text_column_required: bool = False
    batch_text: str | None = None
    template: str | None = None
    strict: bool = False
    dedupe: Dedupe | bool | None = None  # True: "number"; False: None
    encoding: str = "utf-8"
    delimiter: str | None = None  # None: comma, tab for .tsv, sniffed when the header needs it
    default_country: str | None = "US"  # numbers without + read in the North American plan
    strict_numbers: bool = False  # libphonenumber's validity rules on top of the local check
    north_american_only: bool = True  # refuse numbers outside +1 locally (SMS-RC-410 anyway)
    # --suppress: the numbers never to text (engine/run/suppress.py reads the files)
    suppress: Suppressed | None = None
    # --tz-column: the CSV column or JSON key naming each recipient's IANA time zone (issue
    # 22); a record whose cell ``zone_check`` refuses is a local rejection (its Problem's
    # code, LCL-BAD-TIMEZONE): engine/schedule/zones.py check_zone, passed in by the caller
    # since the reader cannot import the schedule room. Read record by record (no bulk path).
    tz_column: str | None = None
    zone_check: Callable[[str], str | phone.Problem] | None = None
    # Under quiet hours (issue 22, the cold review's M5): asked of each number outside +1
    # without a --tz-column value; its Problem (LCL-NO-TIMEZONE: nothing gives its zone)
    # makes the record a local rejection. engine/schedule/zones.py Placer.unknown_zone.
    unplaced: Callable[[str], phone.Problem | None] | None = None

    def __post_init__(self) -> None:
        if self.batch_text is not None and len(self.batch_text) > MAX_TEXT:
            raise UsageError(f"--text is {len(self.batch_text)} characters; RingCentral allows "
                             f"{MAX_TEXT}. Shorten it.")
        if self.template is not None:
            templates.parse(self.template)
        object.__setattr__(self, "dedupe", check_dedupe(self.dedupe))
        object.__setattr__(self, "encoding", check_encoding(self.encoding))
        object.__setattr__(self, "default_country", phone.check_country(self.default_country))
        if self.tz_column is not None and not self.tz_column.strip():
            raise UsageError("--tz-column needs the name of a column (or JSON key) holding "
                             "each recipient's IANA time zone, e.g. --tz-column tz.")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UsageError(f"--delimiter {self.delimiter!r} must be one character, e.g. ';' "
                             "or a tab ($'\\t' in a shell).")

    def as_header(self) -> dict[str, Any]:
        """What a journal records so a resume or 'a2p outcomes' reads the input the same way."""
        return {"format": self.format, "toColumn": self.to_column,
                "textColumn": self.text_column, "textColumnRequired": self.text_column_required,
                "strict": self.strict, "dedupe": self.dedupe, "encoding": self.encoding,
                "delimiter": self.delimiter,
                "defaultCountry": self.default_country, "strictNumbers": self.strict_numbers,
                "northAmericanOnly": self.north_american_only,
                **({"suppress": self.suppress.as_header()} if self.suppress else {}),
                **({"tzColumn": self.tz_column} if self.tz_column is not None else {})}

    @classmethod
    def from_header(cls, read: Mapping[str, Any], **given: Any) -> ReadOptions:
        """The options a journal's ``read`` header recorded (older journals: the defaults).
        Its suppression lists are read again by engine/run/suppress.py (``reloaded``)."""
        return cls(format=read.get("format", "auto"), to_column=read.get("toColumn", "to"),
                   text_column=read.get("textColumn", "text"),
                   text_column_required=read.get("textColumnRequired", False),
                   strict=read.get("strict", False), dedupe=_recorded(read.get("dedupe")),
                   encoding=read.get("encoding", "utf-8"), delimiter=read.get("delimiter"),
                   default_country=read.get("defaultCountry", "US"),
                   strict_numbers=read.get("strictNumbers", False),
                   north_american_only=read.get("northAmericanOnly", True),
                   tz_column=read.get("tzColumn"), **given)


def check_dedupe(dedupe: Dedupe | bool | None) -> Dedupe | None:
    """``dedupe`` as a rule name: True (a bare ``--dedupe``) is "number", False is None."""
    if dedupe is True:
        return "number"
    if dedupe is False or dedupe is None:
        return None
    if dedupe not in DEDUPE_RULES:
        raise UsageError(f"dedupe={dedupe!r} is not a rule; use 'number' (each number's first "
                         "record) or 'message' (each number and text's first record).")
    return dedupe


def _recorded(dedupe: Any) -> Dedupe | None:
    """A journal header's dedupe. Journals written before the "number" rule existed say
    true, and were read by number and text together: so true is "message", and a resume or
    'a2p outcomes' of such a journal rebuilds exactly the records it sent."""
    return "message" if dedupe is True else check_dedupe(dedupe)


def check_encoding(name: str) -> str:
    """``--encoding`` as a codec name; refused when lines cannot be split on the newline byte
    (UTF-16/32), since byte offsets for resume are taken between lines."""
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise UsageError(f"--encoding {name!r} is not an encoding Python knows. Use e.g. "
                         "utf-8, cp1252 (Windows Western), latin-1 or cp1250.") from exc
    if codec == "utf-8-sig":
        return "utf-8"  # a byte-order mark is skipped either way
    if "\n".encode(codec) != b"\n" or "a,".encode(codec) != b"a,":
        raise UsageError(f"--encoding {name!r} does not keep one byte per newline (UTF-16 and "
                         "UTF-32 do not). Convert the file to UTF-8, e.g. iconv -f UTF-16 -t "
                         "UTF-8.")
    return codec
