"""Round ticks and linear scales (livestreams/charts/scales.py)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livestreams import charts


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 123_456, [0, 50_000, 100_000, 150_000]),
        (0, 0, [0, 1, 2, 3, 4]),
        (0, 10, [0, 2, 4, 6, 8, 10]),
        (0, 1, [0, Decimal("0.2"), Decimal("0.4"), Decimal("0.6"), Decimal("0.8"), 1]),
        (0, Decimal("8200"), [0, 2000, 4000, 6000, 8000, 10_000]),
        (-3, 7, [-5, 0, 5, 10]),
    ],
)
def test_nice_ticks(low, high, expected):
    assert charts.nice_ticks(low, high) == [Decimal(v) for v in expected]


def test_nice_ticks_for_counts_never_step_below_one():
    assert charts.nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert charts.nice_ticks(0, 1, integer=True) == [0, 1, 2, 3]


@given(st.floats(min_value=1e-3, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_nice_ticks_properties(high):
    ticks = charts.nice_ticks(0, high)
    step = ticks[1] - ticks[0]
    assert 4 <= len(ticks) <= 6
    assert ticks[0] == 0
    assert float(ticks[-1]) >= high * (1 - 1e-9)
    assert all(b - a == step for a, b in zip(ticks, ticks[1:], strict=False))
    mantissa = step.scaleb(-step.adjusted())
    assert mantissa in (1, 2, 5)


def test_linear_scale_maps_domain_edges_to_range_edges():
    scale = charts.LinearScale(0, 200, 214, 22)
    assert scale(0) == 214
    assert scale(200) == 22
    assert scale(100) == 118
    assert charts.LinearScale(5, 5, 0, 100)(5) == 50  # a flat domain lands in the middle
