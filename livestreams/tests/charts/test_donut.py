"""Donut (livestreams/charts/donut.py)."""

import math
import re

from livestreams import charts

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


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
