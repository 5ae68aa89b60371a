"""Numbers to positions: rounded coordinates, round ("nice") tick values and linear scales."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from livestreams.templatetags.data_format import to_decimal

# Plain "nice" multipliers: ticks step by 1, 2 or 5 × 10ⁿ.
NICE_MULTIPLIERS = (1, 2, 5)


def rounded(value: float) -> float:
    """Round a coordinate to 0.1; whole numbers become ints so the SVG reads ``16``, not ``16.0``."""
    result = round(float(value), 1)
    return int(result) if result.is_integer() else result


def as_float(value) -> float | None:
    """A plain number (int, float, Decimal, numeric string) as a float; None when it is not one."""
    number = to_decimal(value)
    return None if number is None else float(number)


def clean(number: Decimal) -> Decimal:
    """A tick value without exponent noise: ``Decimal("2E+4")`` → ``Decimal(20000)``."""
    if number == number.to_integral_value():
        return Decimal(int(number))
    return number.normalize()


def nice_step(raw: float) -> Decimal:
    """The smallest 1/2/5 × 10ⁿ step that is ≥ ``raw`` (raw > 0)."""
    exponent = math.floor(math.log10(raw))
    for multiplier in (*NICE_MULTIPLIERS, 10):
        step = Decimal(multiplier).scaleb(exponent)
        if step >= Decimal(repr(raw)) * (1 - Decimal("1e-9")):
            return clean(step)
    return clean(Decimal(10).scaleb(exponent))  # pragma: no cover - the loop always returns


def nice_ticks(low, high, *, max_ticks: int = 6, min_ticks: int = 4, integer: bool = False) -> list[Decimal]:
    """Evenly spaced round tick values covering ``[low, high]``, from 0 whenever the data is ≥ 0.

    The step is 1, 2 or 5 × 10ⁿ; the result has ``min_ticks`` … ``max_ticks`` values (4–6).
    ``integer=True`` keeps the step ≥ 1 (counts). ``nice_ticks(0, 0)`` is ``[0, 1, 2, 3, 4]``.
    """
    low = min(as_float(low) or 0.0, 0.0)
    high = max(as_float(high) or 0.0, 0.0)
    if high - low <= 0:
        return [Decimal(v) for v in range(5)]
    intervals_max = max_ticks - 1
    step = nice_step((high - low) / intervals_max)
    if integer and step < 1:
        step = Decimal(1)
    while True:
        start = math.floor(Decimal(repr(low)) / step)
        stop = math.ceil(Decimal(repr(high)) / step)
        if stop - start <= intervals_max:
            break
        step = nice_step(float(step) * 1.01)
    intervals = max(stop - start, min_ticks - 1)
    return [clean((start + i) * step) for i in range(intervals + 1)]


def ticks_with_intervals(high, intervals: int, *, integer: bool = False) -> list[Decimal]:
    """``intervals + 1`` round ticks from 0 covering ``high`` — a secondary axis aligned to the first."""
    high = max(as_float(high) or 0.0, 0.0)
    if high <= 0:
        return [Decimal(i) for i in range(intervals + 1)]
    step = nice_step(high / intervals)
    if integer and step < 1:
        step = Decimal(1)
    return [clean(step * i) for i in range(intervals + 1)]


@dataclass(frozen=True)
class LinearScale:
    """Maps the domain ``[d0, d1]`` linearly onto the range ``[r0, r1]`` (a flat domain maps to the middle)."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value) -> float:
        value = float(value)
        if self.d1 == self.d0:
            return rounded((self.r0 + self.r1) / 2)
        return rounded(self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0))
