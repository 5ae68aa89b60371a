"""Chart geometry for server-rendered inline SVG.

Plain numbers (int, float, Decimal, None), dates, datetimes and labels go in; dataclasses of
ready-to-draw coordinates, SVG path strings and formatted labels come out. Nothing here touches the
database; the templates in ``templates/livestreams/charts/`` draw the result and the inclusion tags
in ``livestreams.templatetags.charts`` tie the two together.

Every builder returns a chart with ``empty=True`` (and a "暂无数据" text) when there is nothing to
draw — no rows, or only zeros — and never divides by zero. Coordinates are rounded to 0.1 so the
SVG stays small.

Where things are, shared pieces first:

- ``text``: translated strings, number formats of tick and hover labels, text widths.
- ``scales``: rounding coordinates, round tick values (:func:`nice_ticks`), :class:`LinearScale`.
- ``frame``: :class:`~.frame.Frame` (viewBox and margins) and :class:`~.frame.Chart`, the fields every
  chart has (frame, title, desc, empty state, id).
- ``axes``: value ticks and x ticks for datetimes (local time), dates and labels.
- ``rows``: reading rows (mappings, tuples, named tuples, objects); ``paths``: SVG line and area paths.
- one module per chart: ``line`` (:func:`line_chart`; its inputs, :class:`Series` and the thinning
  of long series, in ``line_data``), ``bar_line`` (:func:`bar_line_chart`),
  ``funnel`` (:func:`funnel`), ``donut`` (:func:`donut`), ``share_bars`` (:func:`share_bars`).
"""

from .axes import MAX_X_LABELS
from .bar_line import bar_line_chart
from .donut import donut
from .frame import HEIGHT, WIDTH, new_chart_id
from .funnel import funnel, rate
from .line import MAX_HOVERS, line_chart
from .line_data import MAX_POINTS, Series, downsample
from .rows import pick
from .scales import LinearScale, nice_ticks
from .share_bars import share_bars

__all__ = [
    "HEIGHT",
    "MAX_HOVERS",
    "MAX_POINTS",
    "MAX_X_LABELS",
    "WIDTH",
    "LinearScale",
    "Series",
    "bar_line_chart",
    "donut",
    "downsample",
    "funnel",
    "line_chart",
    "new_chart_id",
    "nice_ticks",
    "pick",
    "rate",
    "share_bars",
]
