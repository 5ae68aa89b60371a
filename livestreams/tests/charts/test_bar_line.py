"""Daily bars + line on a second axis (livestreams/charts/bar_line.py)."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from livestreams import charts

from .helpers import daily


@pytest.mark.parametrize("count", [7, 30, 90, 366])
def test_bar_line_chart_sizes(count):
    days = daily(count)
    chart = charts.bar_line_chart(days, [Decimal(1000 * (i % 9)) for i in range(count)], [i % 5 for i in range(count)])
    assert len(chart.bars) == count
    assert 2 <= len(chart.x_ticks) <= 12
    assert all(bar.width > 0 for bar in chart.bars)
    assert chart.bars[0].x >= chart.frame.x0
    assert chart.bars[-1].x + chart.bars[-1].width <= chart.frame.x1
    assert [t.pos for t in chart.y2_ticks] == [t.pos for t in chart.y_ticks]
    assert chart.dense == (count > 150)
    if count == 7:
        assert [t.label for t in chart.x_ticks] == [d.strftime("%m-%d") for d in days]


def test_bar_line_titles():
    chart = charts.bar_line_chart([date(2026, 11, 1)], [Decimal("123456.70")], [321])
    assert chart.bars[0].title == "2026-11-01\nGMV ¥12.3万\n订单数 321"
    with translation.override("en"):
        chart = charts.bar_line_chart([date(2026, 11, 1)], [Decimal("1234.5")], [3])
        assert chart.bars[0].title == "2026-11-01\nGMV ¥1,234.50\nOrders 3"
        assert chart.title == "Daily GMV and Orders"


@pytest.mark.parametrize(("days", "bars", "line"), [([], [], []), (daily(30), [0] * 30, [None] * 30)])
def test_bar_line_chart_without_data(days, bars, line):
    chart = charts.bar_line_chart(days, bars, line)
    assert chart.empty
    assert chart.bars == []
    assert chart.line_path == ""
