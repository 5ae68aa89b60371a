"""The template tags and SVG templates behind ``{% load charts %}`` (livestreams/templatetags/charts.py)."""

import re
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

from .helpers import daily, minutes


def render(source: str, **context) -> str:
    return engines["django"].from_string("{% load charts %}" + source).render(context)


def test_line_chart_tag_renders_accessible_svg():
    html = render(
        '{% line_chart rows series="online,gmv:money:right" labels="在线人数|GMV" x="at" id="live-curve" %}',
        rows=minutes(120),
    )
    assert "<svg" in html
    assert 'role="img"' in html
    assert 'id="live-curve"' in html
    # The SVG's own ids are unique per chart instance (issue 19): never "live-curve-title", which a
    # page's heading may use too.
    part = re.search(r'<title id="(live-curve-[0-9a-f]{8})-title">在线人数、GMV趋势</title>', html).group(1)
    assert f'<desc id="{part}-desc">' in html
    assert f'aria-labelledby="{part}-title"' in html
    assert html.count('class="line"') == 2
    assert f'fill="url(#{part}-fill-0)"' in html
    assert f'id="{part}-fill-0"' in html
    again = render('{% line_chart rows series="online" x="at" id="live-curve" %}', rows=minutes(10))
    assert f"{part}-title" not in again
    assert html.count('<g class="hover">') == 60
    assert "<title>19:00\n在线人数 1,000\nGMV ¥0.00</title>" in html
    assert "峰值" in html
    assert 'class="chart-legend"' in html
    assert "nan" not in html.lower()


def test_each_chart_gets_its_own_ids():
    html = render(
        "{% line_chart rows series='online' x='at' %}{% line_chart rows series='online' x='at' %}", rows=minutes(5)
    )
    ids = re.findall(r'<figure[^>]* id="([^"]+)"', html)
    gradients = re.findall(r'<linearGradient id="([^"]+)"', html)
    assert len(ids) == 2
    assert len(set(ids)) == 2
    assert len(gradients) == 2
    assert len(set(gradients)) == 2


def test_bar_line_chart_tag_366_days():
    days = daily(366)
    rows = [{"day": d, "gmv": Decimal(i * 10), "orders": i} for i, d in enumerate(days)]
    html = render('{% bar_line_chart rows bars="gmv" line="orders" dark=True %}', rows=rows)
    assert 'role="img"' in html
    assert html.count('<rect class="bar"') == 366
    assert html.count('<g class="day"><title>') == 366
    assert f"<title>{days[-1].isoformat()}\nGMV ¥3,650.00\n订单数 365</title>" in html
    x_labels = re.search(r'<g class="tick-labels x-labels">(.*?)</g>', html, re.S).group(1)
    assert 6 <= x_labels.count("<text") <= 12
    assert "chart-dark" in html
    assert "is-dense" in html
    lists = render("{% bar_line_chart days gmv orders %}", days=days[:7], gmv=[1] * 7, orders=[2] * 7)
    assert lists.count('<rect class="bar"') == 7
    assert lists.count('<circle class="dot"') == 7


def test_funnel_tag():
    html = render("{% funnel_chart steps %}", steps=[("曝光", 1000), ("进入", 250), ("成交", 0)])
    assert 'role="img"' in html
    assert html.count('<rect class="step-bar"') == 3
    assert "↓ 25.0%" in html
    assert "↓ 0.0%" in html
    assert "<title>进入 250\n较上一步转化率 25.0%\n整体转化率 25.00%</title>" in html


def test_donut_and_share_bars_tags():
    html = render("{% donut_chart shares title='性别' %}", shares=[("女", 0.6), ("男", 0.4)])
    assert 'role="img"' in html
    assert ">性别</title>" in html
    assert html.count('<path class="slice') == 2
    assert "<title>女 60.0%</title>" in html
    bars = render("{% share_bars rows %}", rows=[("18-23", 0.12), ("24-30", 0.38)])
    assert bars.count('<rect class="sb-fill"') == 2
    assert "<title>24-30 38.0%</title>" in bars


@pytest.mark.parametrize(
    "source",
    [
        "{% line_chart empty series='online' %}",
        "{% bar_line_chart empty empty empty %}",
        "{% funnel_chart empty %}",
        "{% donut_chart empty %}",
        "{% share_bars empty %}",
    ],
)
def test_every_tag_renders_a_no_data_state(source):
    html = render(source, empty=[])
    assert "<svg" in html
    assert 'role="img"' in html
    assert "暂无数据" in html
    with translation.override("en"):
        assert "No data" in render(source, empty=[])
