"""Inline-SVG charts for templates: ``{% load charts %}``.

Each tag computes the geometry with :mod:`livestreams.charts` and renders a template from
``templates/livestreams/charts/``: a ``<figure class="chart-figure">`` holding an accessible SVG
(``role="img"``, ``<title>``, ``<desc>``, hover ``<title>`` per point/bar/row) and an HTML legend.
Styles are in ``static/css/charts.css`` (link it once per page); wrap charts in ``.chart-dark``
(or pass ``dark=True``) for the dark big-screen look.

Common arguments of every tag:

- ``id``: the figure's DOM id (default: a random ``chart-xxxxxxxx``, unique on the page). The ids
  inside its SVG (title, desc, gradients) get a random suffix of their own (``<id>-xxxxxxxx-title``),
  so they never clash with the page's ids (a heading ``funnel-title`` beside ``id="funnel"``).
- ``title``: the accessible name (default: a summary such as "在线人数、GMV趋势").
- ``dark``: add the ``chart-dark`` class to the figure itself.

Sizes: the SVG scales to its container through its viewBox, text included. Pass ``width`` (and
``height``) close to the width the chart is shown at — e.g. ``width=560`` in a half-width card,
``width=1180`` full-width — so the 12px labels render at about 12px. Below 60 % of its viewBox
width a chart stops shrinking and its figure scrolls sideways (phones).

Empty input, or only zeros, renders the same frame with "暂无数据" (no data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import template

from livestreams import charts

register = template.Library()


# Below this share of its viewBox width a chart stops shrinking (its figure scrolls sideways), so the
# 12px labels never render smaller than ~7px on a phone.
MIN_SCALE = 0.6


def _finish(chart, id: str, dark: bool, prefix: str) -> dict:
    chart.id = str(id) if id else charts.new_chart_id(prefix)
    # The ids inside the SVG (title, desc, gradients) are unique per chart instance, also when the
    # figure's id is given: "funnel-title" would otherwise clash with the page's own heading ids.
    chart.part_id = chart.id if not id else charts.new_chart_id(chart.id)
    return {"chart": chart, "dark": bool(dark), "min_width": round(float(chart.width) * MIN_SCALE)}


def _size(value) -> float:
    """A viewBox size from a template argument: ``720`` stays ``720`` (not ``720.0``) in the SVG."""
    number = float(value)
    return int(number) if number.is_integer() else number


def _is_list(value) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, Mapping))


def _series_from_string(spec: str, labels: str, area: bool, peak: bool) -> list[charts.Series]:
    """``"online,gmv:money:right"`` + ``labels="在线人数|GMV"`` → Series list (area/peak on the first)."""
    names = [part.strip() for part in str(labels).split("|")] if labels else []
    result = []
    for index, item in enumerate(part.strip() for part in str(spec).split(",") if part.strip()):
        key, fmt, axis = (item.split(":") + ["number", "left"])[:3]
        result.append(
            charts.Series(
                key=key,
                label=names[index] if index < len(names) and names[index] else key,
                fmt=fmt or "number",
                axis=axis or "left",
                area=bool(area) and index == 0,
                peak=bool(peak) and index == 0,
            )
        )
    return result


@register.inclusion_tag("livestreams/charts/_line.html")
def line_chart(
    points,
    series="value",
    x="x",
    labels="",
    area=True,
    peak=True,
    id="",
    title="",
    width=charts.WIDTH,
    height=charts.HEIGHT,
    max_points=charts.MAX_POINTS,
    dark=False,
):
    """Curves over time (or dates, or labels) — e.g. per-minute online viewers and GMV.

    ``{% line_chart minutes series="online,gmv:money:right" labels=series_labels x="at" %}``

    - ``points``: rows in x order — dicts, objects (attributes), or tuples ``(x, v1, v2, …)``.
      Aware datetimes are labelled HH:MM in local time (Asia/Shanghai), dates MM-DD.
    - ``series``: either a list of ``charts.Series`` / dicts with its fields (key, label, fmt,
      axis, area, color, agg, peak) built in the view, or a string of comma-separated
      ``key[:fmt[:axis]]`` items: fmt is number (default), money, percent or duration; axis is left
      (default) or right (a second y axis aligned to the first).
    - ``labels``: with the string form, the series' display names separated by ``|`` (a translated
      variable works: ``{% translate "在线人数" as l %}``); defaults to the keys.
    - ``x``: key / attribute of the x value (tuples use ``row[0]``). Default ``"x"``.
    - ``area`` (default True) fills under, ``peak`` (default True) marks the highest point of, the
      first series — string form only; Series objects carry their own.
    - ``width`` / ``height``: the viewBox (default 720×240); a wider box for full-width big screens
      keeps the text from growing. ``max_points``: thinning limit (default 240, bucket max).
    """
    if isinstance(series, str):
        specs = _series_from_string(series, labels, area, peak)
    elif isinstance(series, Mapping):
        specs = [series]
    else:
        specs = list(series)
    chart = charts.line_chart(
        points,
        series=specs,
        x=x,
        width=_size(width),
        height=_size(height),
        max_points=int(max_points),
        title=title,
    )
    return _finish(chart, id, dark, "line")


@register.inclusion_tag("livestreams/charts/_bar_line.html")
def bar_line_chart(
    days,
    bars=None,
    line=None,
    x="day",
    bar_label="",
    line_label="",
    bar_fmt="money",
    line_fmt="number",
    id="",
    title="",
    width=charts.WIDTH,
    height=charts.HEIGHT,
    dark=False,
):
    """A daily trend: bars (GMV) on the left axis and a line (orders) on an aligned right axis.

    Two forms:

    - parallel lists: ``{% bar_line_chart days gmv_list order_list %}``
    - rows + keys: ``{% bar_line_chart daily bars="gmv" line="orders" x="day" %}`` — ``days`` is a
      list of dicts/objects, ``bars``/``line`` name their fields (defaults ``gmv`` and ``orders``
      when omitted), ``x`` the date field (default ``day``).

    ``bar_label`` / ``line_label``: legend and hover names (default "GMV" / "订单数").
    ``bar_fmt`` / ``line_fmt``: money (bars' default), number (line's default), percent, duration.
    7 to 366 days: bars thin out, at most 12 MM-DD labels, each day has a hover title.
    """
    rows = list(days)
    if _is_list(bars) and _is_list(line):
        day_values, bar_values, line_values = rows, list(bars), list(line)
    else:
        bar_key, line_key = bars or "gmv", line or "orders"
        day_values = [charts.pick(row, x, 0) for row in rows]
        bar_values = [charts.pick(row, bar_key, 1) for row in rows]
        line_values = [charts.pick(row, line_key, 2) for row in rows]
    chart = charts.bar_line_chart(
        day_values,
        bar_values,
        line_values,
        bar_label=bar_label,
        line_label=line_label,
        bar_fmt=bar_fmt,
        line_fmt=line_fmt,
        width=_size(width),
        height=_size(height),
        title=title,
    )
    return _finish(chart, id, dark, "trend")


@register.inclusion_tag("livestreams/charts/_funnel.html")
def funnel_chart(steps, id="", title="", width=charts.WIDTH, scale="sqrt", fmt="number", dark=False):
    """A conversion funnel: ``{% funnel_chart steps %}``.

    - ``steps``: ``(label, value)`` pairs in order (or dicts with label/value, or a dict
      label → value), e.g. 曝光人数 → 进入直播间 → 商品曝光 → 商品点击 → 成交.
    - Each bar shows its value; between bars, the conversion rate from the previous step (— after 0);
      the hover title adds the overall rate.
    - ``scale``: sqrt (default; keeps small late steps visible) or linear bar widths.
    - ``fmt``: number (default) or money for the values. ``width``: viewBox width (default 720).
    """
    chart = charts.funnel(steps, width=_size(width), scale=scale, fmt=fmt, title=title)
    return _finish(chart, id, dark, "funnel")


@register.inclusion_tag("livestreams/charts/_donut.html")
def donut_chart(shares, id="", title="", center_label="", size=200, normalize=True, dark=False):
    """A donut with its legend: ``{% donut_chart gender_shares title=gender_title %}``.

    - ``shares``: ``(label, share)`` pairs (or dicts label/value, or a dict label → share); counts or
      fractions — normalised to their sum unless ``normalize=False``. An optional third item
      (a count) is shown in the hover title.
    - The centre shows the largest slice's percentage and label (``center_label`` overrides the label).
    - ``size``: the square viewBox (default 200).
    """
    chart = charts.donut(shares, size=_size(size), normalize=normalize, title=title, center_label=center_label)
    return _finish(chart, id, dark, "donut")


@register.inclusion_tag("livestreams/charts/_share_bars.html")
def share_bars(rows, id="", title="", width=480, normalize=None, color=1, dark=False):
    """Horizontal share bars: ``{% share_bars age_rows title=age_title %}``.

    - ``rows``: ``(label, share)`` or ``(label, share, count)`` (or dicts, or a dict label → share),
      in display order. Fractions are shown as they are (top provinces may sum to less than 100 %);
      counts (any value > 1) or ``normalize=True`` are divided by their sum.
    - The longest bar is the largest share. ``color``: palette index 0–7 (default 1, the accent).
    - ``width``: viewBox width (default 480; the height follows the number of rows).
    """
    chart = charts.share_bars(rows, width=_size(width), normalize=normalize, color=int(color), title=title)
    return _finish(chart, id, dark, "shares")
