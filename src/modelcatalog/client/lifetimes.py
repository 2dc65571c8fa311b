"""Token lifetimes written the way people say them: `30d`, `12h`, `90m`, `3600s`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SHAPE = re.compile(r"^(?P<amount>\d+)(?P<unit>[A-Za-z]*)$")
EXAMPLES = "e.g. 30d, 12h, 90m or 3600s"


def parse_lifetime(text: str) -> int:
    """Return the number of seconds in a lifetime; raise ValueError naming what is wrong."""
    value = text.strip()
    if not value:
        raise ValueError(f"a lifetime is required: a whole number and a unit, {EXAMPLES}")
    match = _SHAPE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"'{text}' is not a lifetime: expected a whole number followed by one unit "
            f"(s, m, h or d), {EXAMPLES}"
        )
    amount, unit = int(match["amount"]), match["unit"].lower()
    if not unit:
        raise ValueError(f"'{text}' has no unit: add s, m, h or d, e.g. {amount}d or {amount}s")
    if unit not in _UNITS:
        raise ValueError(
            f"'{text}' has the unknown unit '{match['unit']}': use s (seconds), m (minutes), "
            "h (hours) or d (days)"
        )
    if amount == 0:
        raise ValueError(f"'{text}' is zero: a lifetime must be at least 1 second")
    return amount * _UNITS[unit]
