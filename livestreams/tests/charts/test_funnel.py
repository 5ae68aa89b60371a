"""Conversion funnel (livestreams/charts/funnel.py)."""

import pytest

from livestreams import charts


def test_funnel_rates_and_widths():
    steps = [("曝光", 1_000_000), ("进入", 120_000), ("商品曝光", 80_000), ("点击", 12_000), ("成交", 2_100)]
    chart = charts.funnel(steps)
    rates = [s.rate for s in chart.steps]
    assert rates[0] is None
    assert rates[1] == pytest.approx(0.12)
    assert rates[4] == pytest.approx(0.175)
    assert [s.rate_text for s in chart.steps] == ["", "12.0%", "66.7%", "15.0%", "17.5%"]
    widths = [s.width for s in chart.steps]
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] > 0
    assert chart.steps[4].overall == pytest.approx(0.0021)
    assert "整体转化率 0.21%" in chart.steps[4].title


def test_funnel_rate_after_zero_is_none():
    chart = charts.funnel([("a", 100), ("b", 0), ("c", 0)])
    assert [s.rate for s in chart.steps] == [None, 0.0, None]
    assert [s.rate_text for s in chart.steps] == ["", "0.0%", "—"]
    assert charts.rate(5, 0) is None
    assert charts.rate(5, None) is None


@pytest.mark.parametrize("steps", [[], [("a", 0), ("b", 0)], {"a": None}])
def test_funnel_without_data(steps):
    chart = charts.funnel(steps)
    assert chart.empty
    assert chart.height > 0
