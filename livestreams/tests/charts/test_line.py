"""Line chart (livestreams/charts/line.py, line_data.py)."""

import re

import pytest

from livestreams import charts

from .helpers import daily, minutes


def path_points(d: str) -> list[tuple[float, float]]:
    """The (x, y) pairs of an ``M x,y L x,y`` path."""
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]


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
