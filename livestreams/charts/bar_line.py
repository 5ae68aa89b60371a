"""Daily trend: bars (GMV) on the left axis and a line (orders) on an aligned right axis (:func:`bar_line_chart`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_noop

from .axes import MAX_X_LABELS, Tick, date_ticks, keep_inside, label_tick_indexes, margin_for, tick_labels, value_axis
from .frame import HEIGHT, PALETTE_SIZE, WIDTH, Chart, Frame
from .paths import line_path
from .scales import LinearScale, as_float, nice_ticks, rounded, ticks_with_intervals
from .text import format_value, no_data_text, tr


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    band_x: float
    band_width: float
    cx: float
    line_y: float | None
    title: str


@dataclass(kw_only=True)
class BarLineChart(Chart):
    y_ticks: list[Tick]
    y2_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Bar]
    line_path: str
    show_dots: bool
    bar_label: str
    line_label: str
    bar_color: int
    line_color: int
    dense: bool

    @property
    def right_axis_note(self) -> str:
        return tr(gettext_noop("右轴"), "right axis")


def bar_line_chart(
    days: Sequence[date],
    bars: Sequence,
    line: Sequence,
    *,
    bar_label: str = "",
    line_label: str = "",
    bar_fmt: str = "money",
    line_fmt: str = "number",
    bar_color: int = 1,
    line_color: int = 0,
    width: float = WIDTH,
    height: float = HEIGHT,
    title: str = "",
) -> BarLineChart:
    """A daily trend: ``bars`` (GMV) on the left axis, ``line`` (orders) on an aligned right axis.

    ``days``, ``bars`` and ``line`` are parallel lists (None counts as 0). Works from 1 to 366+ days:
    bars get thinner, at most 12 x labels are drawn, every day has a hover title.
    """
    data = _Days.read(days, bars, line, bar_label, line_label, bar_fmt, line_fmt)
    ticks = nice_ticks(0, max(data.bars, default=0), integer=bar_fmt == "number")
    ticks2 = ticks_with_intervals(max(data.line, default=0), len(ticks) - 1, integer=line_fmt == "number")
    labels, labels2 = tick_labels(ticks, bar_fmt), tick_labels(ticks2, line_fmt)
    frame = Frame(width, height, margin_for(labels, 34), margin_for(labels2, 24), 16, 26)
    y_scale, y_ticks = value_axis(ticks, labels, frame, "end")
    y2_scale, y2_ticks = value_axis(ticks2, labels2, frame, "start")
    drawn = _draw_bars(data, frame, y_scale, y2_scale)
    return BarLineChart(
        frame=frame,
        title=title or _bar_line_title(data),
        desc=no_data_text() if data.empty else _bar_line_desc(data),
        empty=data.empty,
        y_ticks=y_ticks,
        y2_ticks=y2_ticks,
        x_ticks=[] if data.empty else _day_ticks(data.days, drawn, frame),
        bars=[] if data.empty else drawn,
        line_path="" if data.empty else line_path([(bar.cx, bar.line_y) for bar in drawn]),
        show_dots=len(data.days) <= 31,
        bar_label=data.bar_label,
        line_label=data.line_label,
        bar_color=int(bar_color) % PALETTE_SIZE,
        line_color=int(line_color) % PALETTE_SIZE,
        dense=_band(frame, len(data.days)) < 4,
    )


@dataclass
class _Days:
    """The inputs, cleaned: one bar and one line value per day (None and missing values count as 0)."""

    days: list
    bars: list[float]
    line: list[float]
    bar_label: str
    line_label: str
    bar_fmt: str
    line_fmt: str

    @classmethod
    def read(cls, days, bars, line, bar_label, line_label, bar_fmt, line_fmt) -> _Days:
        days = list(days)
        return cls(
            days=days,
            bars=_padded(bars, len(days)),
            line=_padded(line, len(days)),
            bar_label=bar_label or "GMV",
            line_label=line_label or tr(gettext_noop("订单数"), "Orders"),
            bar_fmt=bar_fmt,
            line_fmt=line_fmt,
        )

    @property
    def empty(self) -> bool:
        return not self.days or (not any(self.bars) and not any(self.line))

    def hover(self, i: int) -> str:
        """``2026-11-01`` / ``GMV ¥12.3万`` / ``订单数 321`` on three lines."""
        day = self.days[i]
        return "\n".join(
            (
                day.isoformat() if isinstance(day, date) else str(day),
                f"{self.bar_label} {format_value(self.bars[i], self.bar_fmt)}",
                f"{self.line_label} {format_value(self.line[i], self.line_fmt)}",
            )
        )


def _padded(values, n: int) -> list[float]:
    values = list(values)
    return [as_float(v) or 0.0 for v in values[:n]] + [0.0] * max(0, n - len(values))


def _band(frame: Frame, n: int) -> float:
    """The width each day gets."""
    return frame.plot_width / n if n else frame.plot_width


def _draw_bars(data: _Days, frame: Frame, y_scale: LinearScale, y2_scale: LinearScale) -> list[Bar]:
    """A bar and a line point per day, centred in the day's band; the band is the hover area."""
    band = _band(frame, len(data.days))
    bar_width = min(36.0, band * (0.86 if band < 4 else 0.62))  # dense: barely a gap between bars
    drawn = []
    for i in range(len(data.days)):
        band_x = frame.x0 + i * band
        cx = band_x + band / 2
        top = y_scale(max(data.bars[i], 0.0))  # bars grow up from 0 (GMV is never negative)
        drawn.append(
            Bar(
                x=rounded(cx - bar_width / 2),
                y=top,
                width=rounded(max(bar_width, 0.6)),
                height=rounded(frame.y1 - top),
                band_x=rounded(band_x),
                band_width=rounded(band),
                cx=rounded(cx),
                line_y=y2_scale(data.line[i]),
                title=data.hover(i),
            )
        )
    return drawn


def _day_ticks(days: Sequence, drawn: Sequence[Bar], frame: Frame) -> list[Tick]:
    """MM-DD labels under some of the bars (see axes.date_ticks); plain labels when the days are not dates."""
    max_labels = max(2, min(MAX_X_LABELS, int(frame.plot_width // 46)))
    ticks = []
    if all(isinstance(d, date) for d in days):
        index = {d: i for i, d in enumerate(days)}
        for d in date_ticks(min(days), max(days), max_labels):
            if d in index:
                ticks.append(Tick(drawn[index[d]].cx, d.strftime("%m-%d"), d))
    if not ticks:
        ticks = [Tick(drawn[i].cx, str(days[i]), days[i]) for i in label_tick_indexes(len(days), max_labels)]
    keep_inside(ticks, frame.width)
    return ticks


def _bar_line_title(data: _Days) -> str:
    return tr(gettext_noop("每日{bar}与{line}"), "Daily {bar} and {line}").format(
        bar=data.bar_label, line=data.line_label
    )


def _bar_line_desc(data: _Days) -> str:
    first, last = data.days[0], data.days[-1]
    span = f"{first.isoformat()} – {last.isoformat()}" if isinstance(first, date) else f"{first} – {last}"
    return tr(
        gettext_noop("{span}，共 {days} 天：{bar}合计 {bar_total}，{line}合计 {line_total}"),
        "{span}, {days} days: {bar} total {bar_total}, {line} total {line_total}",
    ).format(
        span=span,
        days=len(data.days),
        bar=data.bar_label,
        line=data.line_label,
        bar_total=format_value(sum(data.bars), data.bar_fmt),
        line_total=format_value(sum(data.line), data.line_fmt),
    )
