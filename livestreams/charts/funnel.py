"""Conversion funnel: centred bars of decreasing width with values and step rates (:func:`funnel`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_noop

from livestreams.templatetags.data_format import format_percent, is_english

from .frame import PALETTE_SIZE, WIDTH, Chart, Frame
from .rows import labels_and_values
from .scales import as_float, rounded
from .text import format_value, no_data_text, text_width, tr, truncate

ROW_HEIGHT = 34.0  # a step's bar
GAP = 26.0  # between two bars: room for the rate
PAD = 6.0  # above the first and below the last bar
MIN_HEIGHT = 120  # without steps


@dataclass
class FunnelStep:
    label: str
    value: float
    value_text: str
    rate: float | None
    rate_text: str
    overall: float | None
    x: float
    y: float
    width: float
    height: float
    cx: float
    cy: float
    label_text: str
    color: int
    rate_y: float | None = None
    title: str = ""


@dataclass(kw_only=True)
class FunnelChart(Chart):
    """The frame's margins are the label column (left) and the value column (right)."""

    steps: list[FunnelStep]

    @property
    def label_x(self) -> float:
        """Where the step labels end."""
        return rounded(self.frame.left - 14)

    @property
    def value_x(self) -> float:
        """Where the values start."""
        return rounded(self.frame.width - self.frame.right + 14)


def rate(value, previous) -> float | None:
    """``value / previous``, or None when the previous step is 0 or missing."""
    value, previous = as_float(value), as_float(previous)
    if value is None or not previous:
        return None
    return value / previous


def funnel(
    steps: Iterable,
    *,
    width: float = WIDTH,
    scale: str = "sqrt",
    fmt: str = "number",
    title: str = "",
) -> FunnelChart:
    """Horizontal, centred bars of decreasing width with each step's value and its conversion rate.

    ``steps``: ``(label, value)`` pairs (or mappings with label/value). The rate of a step is its value
    over the previous step's (None for the first step and after a 0). Widths follow the square root of
    the value's share of the largest step (``scale="linear"`` for plain proportions), at least 3 %.
    """
    rows = labels_and_values(steps)
    labels = [label for label, _value, _extra in rows]
    values = [value for _label, value, _extra in rows]
    empty = not values or not any(values)
    value_texts = [format_value(v, fmt) for v in values]
    frame = _funnel_frame(labels, value_texts, width)
    widths = _bar_widths(values, _bar_area(frame), scale, empty)
    drawn = [_step(i, labels, values, value_texts[i], widths[i], frame) for i in range(len(values))]
    return FunnelChart(
        frame=frame,
        title=title or tr(gettext_noop("转化漏斗"), "Conversion funnel"),
        desc=no_data_text() if empty else _funnel_desc(drawn),
        empty=empty,
        steps=drawn,
    )


def _funnel_frame(labels: Sequence[str], value_texts: Sequence[str], width: float) -> Frame:
    """Room for the labels (at most 30 % of the width) on the left and for the values on the right."""
    label_col = min(max((text_width(label, 13) for label in labels), default=60) + 18, width * 0.3)
    value_col = max((text_width(text, 14) for text in value_texts), default=40) + 22
    count = max(len(labels), 1)
    height = max(PAD + count * ROW_HEIGHT + (count - 1) * GAP + PAD, MIN_HEIGHT if not labels else 0)
    return Frame(width, rounded(height), left=label_col, right=value_col, top=PAD, bottom=PAD)


def _bar_area(frame: Frame) -> float:
    """The width of the widest bar (at least 40)."""
    return max(frame.width - frame.right - frame.left, 40)


def _bar_widths(values: Sequence[float], bar_area: float, scale: str, empty: bool) -> list[float]:
    """Each bar's share of the widest step (its square root by default), at least 3 %; a staircase when empty."""
    biggest = max(values, default=0.0)
    widths = []
    for i, value in enumerate(values):
        share = value / biggest if biggest else 0.0
        fraction = math.sqrt(share) if scale == "sqrt" else share
        widths.append(bar_area * max(fraction, 0.03) if not empty else bar_area * (1 - i * 0.15))
    return widths


def _step(
    i: int, labels: Sequence[str], values: Sequence[float], value_text: str, bar_width: float, frame: Frame
) -> FunnelStep:
    """Step ``i``: its bar centred over the bar area, its label left of it, its rate above it."""
    label, value = labels[i], values[i]
    centre = frame.left + _bar_area(frame) / 2
    y = frame.top + i * (ROW_HEIGHT + GAP)
    step_rate = rate(value, values[i - 1]) if i else None
    overall = rate(value, values[0]) if i else None
    rate_text = format_percent(step_rate) if i else ""
    return FunnelStep(
        label=label,
        value=value,
        value_text=value_text,
        rate=step_rate,
        rate_text=rate_text,
        overall=overall,
        x=rounded(centre - bar_width / 2),
        y=rounded(y),
        width=rounded(max(bar_width, 2)),
        height=ROW_HEIGHT,
        cx=rounded(centre),
        cy=rounded(y + ROW_HEIGHT / 2),
        label_text=truncate(label, frame.left - 14, 13),
        color=i % PALETTE_SIZE,
        rate_y=rounded(y - GAP / 2) if i else None,
        title=_step_title(label, value_text, rate_text, overall, first=not i),
    )


def _step_title(label: str, value_text: str, rate_text: str, overall: float | None, *, first: bool) -> str:
    """The hover title: label and value; after the first step, the step's and the overall conversion."""
    lines = [f"{label} {value_text}"]
    if not first:
        lines.append(
            tr(gettext_noop("较上一步转化率 {rate}"), "Conversion from previous step {rate}").format(rate=rate_text)
        )
        lines.append(
            tr(gettext_noop("整体转化率 {rate}"), "Overall conversion {rate}").format(rate=format_percent(overall, 2))
        )
    return "\n".join(lines)


def _funnel_desc(drawn: Sequence[FunnelStep]) -> str:
    """``曝光 1,000 → 进入 250（25.0%）`` — each step's value and rate."""
    parts = []
    for step in drawn:
        text = f"{step.label} {step.value_text}"
        if step.rate_text:
            text += f" ({step.rate_text})" if is_english() else f"（{step.rate_text}）"
        parts.append(text)
    return " → ".join(parts)
