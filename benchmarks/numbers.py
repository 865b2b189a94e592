"""Distinct, valid North American numbers for generated lists."""

from __future__ import annotations


def number(i: int) -> str:
    """The i-th valid NANP number: area codes from 201 up, exchanges 200-999."""
    area, line = divmod(i, 8_000_000)
    return f"+1{201 + area}{2_000_000 + line:07d}"
