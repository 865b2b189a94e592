"""Reading a recipient list: byte lines (CSV, JSONL, one number per line) or Python items in,
blocks of accepted records out, bad records handed to a sink as local rejections. Pure: nothing
here opens a file, touches the network or reads a clock.

- ``options``: how to read one input (``ReadOptions``, its journal header) and ``StartAt``;
- ``records``: the record builder every format shares, and ``Block``;
- ``lines``: the line source, encoding checks and careful record-by-record path;
- ``blocks``: the bulk fast paths, which agree with the careful path to the byte offset;
- ``dialect``: CSV delimiter and column detection;
- ``items``: Python iterables, plain and async;
- ``firstseen``: what ``--dedupe`` remembers of each recipient, about 15 bytes each;
- ``suppressed``: the ``--suppress`` set, the numbers never to text, about 8.5 bytes each;
- ``phone``, ``templates``, ``segments``: numbers, per-recipient texts, SMS segment counts.

The public names below load their module when first used, so the CLI's ``--help`` (which needs
only ``FORMATS``) does not pay for the reader (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.reading.items import aread_items, read_items
    from engine.reading.lines import read_lines
    from engine.reading.options import ReadOptions, StartAt
    from engine.reading.records import BLOCK_SIZE, Block, RejectSink

FORMATS = ("csv", "jsonl", "lines")

__all__ = [
    "BLOCK_SIZE",
    "FORMATS",
    "Block",
    "ReadOptions",
    "RejectSink",
    "StartAt",
    "aread_items",
    "read_items",
    "read_lines",
]

def __getattr__(name: str) -> Any:
    # Each module imported where its names are first used, by name, so the import contract
    # (tests/test_layout.py) sees every module this loads.
    if name in ("BLOCK_SIZE", "Block", "RejectSink"):
        from engine.reading import records

        return getattr(records, name)
    if name in ("ReadOptions", "StartAt"):
        from engine.reading import options

        return getattr(options, name)
    if name == "read_lines":
        from engine.reading import lines

        return lines.read_lines
    if name in ("read_items", "aread_items"):
        from engine.reading import items

        return getattr(items, name)
    raise AttributeError(f"module 'engine.reading' has no attribute {name!r}")
