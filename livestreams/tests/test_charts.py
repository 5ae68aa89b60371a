"""Chart geometry (livestreams/charts.py) and the SVG templates behind ``{% load charts %}``."""

import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from livestreams import charts

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def render(source: str, **context) -> str:
    return engines["django"].from_string("{% load charts %}" + source).render(context)


def path_points(d: str) -> list[tuple[float, float]]:
    """The (x, y) pairs of an ``M x,y L x,y`` path."""
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]


def minutes(count: int, start=datetime(2026, 11, 1, 11, 0, tzinfo=UTC), value=lambda i: 1000 + i):
    return [{"at": start + timedelta(minutes=i), "online": value(i), "gmv": Decimal(i) * 10} for i in range(count)]


def daily(count: int, end=date(2026, 11, 28)):
    first = end - timedelta(days=count - 1)
    return [first + timedelta(days=i) for i in range(count)]


# ---- ticks and scales -------------------------------------------------------------------------


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


# ---- line chart ---------------------------------------------------------------------------------


def test_line_chart_maps_first_and_last_points_to_the_plot_edges():
    rows = minutes(61, value=lambda i: i * 100)  # 0 … 6000
    chart = charts.line_chart(rows, series=[charts.Series("online", "在线人数")], x="at")
    points = path_points(chart.series[0].path)
    frame = chart.frame
    assert points[0] == (frame.x0, frame.y1)  # first minute, value 0: bottom-left corner
    assert points[-1][0] == frame.x1
    assert chart.y_ticks[0].value == 0
    assert chart.y_ticks[0].pos == frame.y1
    assert chart.y_ticks[-1].pos == frame.y0
    assert points[-1][1] == frame.y0  # 6000 is the top tick
    assert not chart.empty


def test_line_chart_time_axis_is_local_shanghai_time():
    chart = charts.line_chart(minutes(240), series=["online"], x="at")  # 11:00 UTC = 19:00 Asia/Shanghai
    labels = [t.label for t in chart.x_ticks]
    assert labels[0] == "19:00"
    assert "22:00" in labels
    assert len(labels) <= charts.MAX_X_LABELS
    assert chart.hovers[0].title.startswith("19:00\n")


def test_line_chart_with_dates_and_with_labels():
    days = daily(30)
    rows = [(d, i) for i, d in enumerate(days)]
    chart = charts.line_chart(rows, series=[("gmv", "GMV", "money")])
    assert all(re.fullmatch(r"\d\d-\d\d", t.label) for t in chart.x_ticks)
    assert chart.x_ticks[0].label == days[0].strftime("%m-%d")
    assert chart.y_ticks[-1].label.startswith("¥")
    labelled = charts.line_chart([("a", 1), ("b", 3), ("c", 2)], series=["v"])
    assert [t.label for t in labelled.x_ticks] == ["a", "b", "c"]


def test_downsampling_keeps_the_peak():
    spike = 50_000
    rows = minutes(600, value=lambda i: spike if i == 301 else 1000 + (i % 7))
    chart = charts.line_chart(rows, series=[charts.Series("online", "在线人数", peak=True)], x="at")
    assert chart.source_points == 600
    assert chart.drawn_points <= charts.MAX_POINTS
    points = path_points(chart.series[0].path)
    assert len(points) == chart.drawn_points
    top_y = min(y for _x, y in points)
    scale = charts.LinearScale(
        float(chart.y_ticks[0].value), float(chart.y_ticks[-1].value), chart.frame.y1, chart.frame.y0
    )
    assert top_y == scale(spike)
    assert chart.series[0].peak["y"] == top_y
    assert "5万" in chart.series[0].peak["label"]
    assert len(chart.hovers) <= charts.MAX_HOVERS


def test_downsample_average_bucket():
    xs, (maxed, averaged) = charts.downsample(list(range(6)), [[1, 5, 3, 3, None, 9]] * 2, ["max", "avg"], 3)
    assert xs == [0, 2, 4]
    assert maxed == [5, 3, 9]
    assert averaged == [3, 3, 9]


def test_two_axes_share_grid_lines():
    chart = charts.line_chart(
        minutes(90), series=["online", charts.Series("gmv", "GMV", fmt="money", axis="right")], x="at"
    )
    assert len(chart.y2_ticks) == len(chart.y_ticks)
    assert [t.pos for t in chart.y2_ticks] == [t.pos for t in chart.y_ticks]
    assert chart.series[1].axis_note


@pytest.mark.parametrize("rows", [[], minutes(30, value=lambda i: 0)])
def test_line_chart_without_data_is_empty_not_an_error(rows):
    chart = charts.line_chart(rows, series=["online"], x="at")
    assert chart.empty
    assert chart.empty_text == "暂无数据"
    assert chart.series[0].path == ""
    assert chart.hovers == []
    assert len(chart.y_ticks) >= 4


def test_line_chart_skips_missing_values():
    rows = [(i, None if i == 2 else i) for i in range(5)]
    path = charts.line_chart(rows, series=["v"]).series[0].path
    assert path.count("M") == 2  # the line breaks at the gap


# ---- daily bars + line --------------------------------------------------------------------------


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


# ---- funnel ---------------------------------------------------------------------------------------


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


# ---- donut and share bars -----------------------------------------------------------------------


def assert_clean_path(d: str):
    assert d
    assert "nan" not in d.lower()
    assert "inf" not in d.lower()
    assert all(math.isfinite(float(n)) for n in NUMBER.findall(d))


def test_donut_single_full_slice_is_a_ring():
    chart = charts.donut([("新访客", 1.0), ("回访", 0)])
    full, zero = chart.slices
    assert_clean_path(full.path)
    assert full.path.count("A") == 4  # two half arcs outside, two inside
    assert zero.path == ""
    assert zero.share_text == "0.0%"
    assert chart.center_value == "100.0%"
    assert chart.center_label == "新访客"


def test_donut_slices_add_up_and_skip_zero():
    chart = charts.donut([("女", 0.63), ("男", 0.37), ("未知", 0)])
    assert [s.share_text for s in chart.slices] == ["63.0%", "37.0%", "0.0%"]
    for slice_ in chart.slices[:2]:
        assert_clean_path(slice_.path)
        assert slice_.path.count("A") == 2
    assert chart.slices[0].path.split(" A")[1].split()[2] == "1"  # 63 % takes the large arc
    assert chart.slices[1].path.split(" A")[1].split()[2] == "0"


def test_donut_counts_are_normalised_and_empty_is_safe():
    chart = charts.donut({"a": 30, "b": 10})
    assert [s.share for s in chart.slices] == [0.75, 0.25]
    empty = charts.donut([("a", 0), ("b", 0)])
    assert empty.empty
    assert all(s.path == "" for s in empty.slices)
    assert charts.donut([]).empty


def test_share_bars():
    chart = charts.share_bars({"广东": 0.18, "浙江": 0.09, "江苏": 0})
    assert [r.share_text for r in chart.rows] == ["18.0%", "9.0%", "0.0%"]
    assert chart.rows[0].width == chart.bar_max
    assert chart.rows[1].width == pytest.approx(chart.bar_max / 2, abs=0.1)
    assert chart.rows[2].width == 0
    counts = charts.share_bars([("推荐", 62_000), ("关注", 21_000), ("其他", 17_000)])
    assert [r.share_text for r in counts.rows] == ["62.0%", "21.0%", "17.0%"]
    long_name = charts.share_bars([("一个非常非常非常非常非常长的城市名字", 0.5)], width=300)
    assert long_name.rows[0].label_text.endswith("…")
    assert charts.share_bars([]).empty
    assert charts.share_bars([("a", 0)]).empty


# ---- templates and tags ---------------------------------------------------------------------------


def test_line_chart_tag_renders_accessible_svg():
    html = render(
        '{% line_chart rows series="online,gmv:money:right" labels="在线人数|GMV" x="at" id="live-curve" %}',
        rows=minutes(120),
    )
    assert "<svg" in html
    assert 'role="img"' in html
    assert 'id="live-curve"' in html
    assert '<title id="live-curve-title">在线人数、GMV趋势</title>' in html
    assert '<desc id="live-curve-desc">' in html
    assert 'aria-labelledby="live-curve-title"' in html
    assert html.count('class="line"') == 2
    assert 'fill="url(#live-curve-fill-0)"' in html
    assert 'id="live-curve-fill-0"' in html
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


def test_rows_may_be_named_tuples_with_label_value_and_share():
    from typing import Any, NamedTuple

    class Step(NamedTuple):
        key: str
        label: str
        value: int
        rate: float | None

    class Share(NamedTuple):
        key: str
        label: str
        value: Any
        share: float | None

    chart = charts.funnel([Step("impressions", "曝光", 1000, None), Step("entries", "进入", 100, 0.1)])
    assert [s.label for s in chart.steps] == ["曝光", "进入"]
    assert chart.steps[1].rate_text == "10.0%"
    sources = charts.share_bars([Share("feed", "推荐feed", 620, 0.62), Share("follow", "关注", 380, 0.38)])
    assert sources.rows[0].title == "推荐feed 62.0% · 620"
    gender = charts.donut(
        [Share("female", "女性", Decimal("0.63"), 0.63), Share("male", "男性", Decimal("0.37"), 0.37)]
    )
    assert [s.title for s in gender.slices] == ["女性 63.0%", "男性 37.0%"]
    assert charts.share_bars([Share("x", "x", 0, None)]).empty
