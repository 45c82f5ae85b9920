"""The one rule for a valid symbol, checked before any work is done (CLI, YAML, Python, imports)."""

from __future__ import annotations

import re

from ntrader.errors import InputError

#: A ticker as IB and every store here accept it: letters, digits and . - / (e.g. BRK.B), ≤ 32 characters.
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,31}$")


def parse_symbol(text: str) -> str:
    """`text` stripped and upper-cased, or an InputError saying what a symbol may hold."""
    symbol = str(text).strip().upper()
    if not symbol:
        raise InputError("symbol must not be empty")
    if not SYMBOL_PATTERN.match(symbol):
        raise InputError(
            f"invalid symbol {str(text).strip()!r}: use 1 to 32 letters, digits and . - / (e.g. AAPL, BRK.B)"
        )
    return symbol


__all__ = ["SYMBOL_PATTERN", "parse_symbol"]
