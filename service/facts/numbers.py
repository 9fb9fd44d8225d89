"""The one formatter of displayed lab values: as reported, rounded per analyte, never more precise than reported.

Cards, the work-up page and the command line show a value through ``value_text`` / ``canonical_text`` made here,
so "4.0" stays "4.0" and a computed feed value (8.528144890830262) reads as a laboratory would print it (8.5).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

MAX_DECIMALS = 6


def _decimal(value: float | int | Decimal | str) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def decimals_of(text: str) -> int:
    """How many decimals a number was written with ("4.0" -> 1, "140" -> 0)."""
    number = _decimal(text)
    exponent = number.as_tuple().exponent if number is not None else 0
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def significant_figures(text: str) -> int:
    """Significant figures of a number as written ("0.80" -> 2, "140" -> 3, "0" -> 1)."""
    number = _decimal(text)
    if number is None or number == 0:
        return 1
    if "." in text or "e" in text.lower():
        return len(number.as_tuple().digits)
    return len(str(abs(int(number))))  # an integer's trailing zeros count, as it was written


def decimals_for_unit(decimals: int, canonical_per_unit: float | None) -> int:
    """The analyte's decimals carried to another unit at the same resolution (mg/dL 1 -> mmol/L 2 for calcium)."""
    if canonical_per_unit is None or canonical_per_unit <= 0:
        return decimals
    shift = math.ceil(math.log10(canonical_per_unit) - 1e-9)
    return min(max(decimals + shift, 0), MAX_DECIMALS)


def fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals (negative: to tens, hundreds), half away from zero; never "-0"."""
    number = _decimal(value) or Decimal(0)
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_HALF_UP")
    return format(rounded if rounded != 0 else abs(rounded), "f")


def reported_text(value: float | int | Decimal | str, decimals: int) -> str:
    """A reported value as the lab wrote it, unless it has more than ``decimals`` decimals: then rounded."""
    written = str(value)
    if _decimal(written) is None:
        return written
    return written if decimals_of(written) <= decimals else fixed(float(value), decimals)


def converted_text(value: float, decimals: int, reported: str) -> str:
    """A converted value: ``decimals`` decimals, but never more significant figures than ``reported`` had."""
    shown = fixed(value, decimals)
    allowed = significant_figures(reported)
    if significant_figures(shown) <= allowed or value == 0:
        return shown
    magnitude = math.floor(math.log10(abs(value)))
    return fixed(value, allowed - 1 - magnitude)
