"""Share bars (livestreams/charts/share_bars.py)."""

import pytest

from livestreams import charts


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
