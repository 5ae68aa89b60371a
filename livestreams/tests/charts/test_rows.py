"""Rows of the funnel, donut and share bars (livestreams/charts/rows.py)."""

from decimal import Decimal

from livestreams import charts


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
