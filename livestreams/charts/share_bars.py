"""Share bars: one horizontal bar per row, the longest for the largest share (:func:`share_bars`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_noop

from livestreams.templatetags.data_format import format_percent

from .frame import PALETTE_SIZE, Chart, Frame
from .rows import share_rows
from .scales import rounded
from .text import join_clauses, no_data_text, share_title, text_width, tr, truncate

ROW_HEIGHT = 30.0
BAR_HEIGHT = 12.0
PAD = 4.0  # above the first and below the last row
VALUE_COLUMN = 58.0  # right of the bars, for the percentages
MIN_HEIGHT = 120  # without rows


@dataclass
class ShareRow:
    label: str
    label_text: str
    share: float
    share_text: str
    y: float
    width: float
    title: str
    color: int


@dataclass(kw_only=True)
class ShareBarsChart(Chart):
    """The frame's margins are the label column (left) and the value column (right); bars start at ``frame.x0``."""

    rows: list[ShareRow]
    bar_max: float

    @property
    def row_height(self) -> float:
        return ROW_HEIGHT

    @property
    def bar_height(self) -> float:
        return BAR_HEIGHT

    @property
    def label_x(self) -> float:
        """Where the labels end."""
        return rounded(self.frame.left - 12)

    @property
    def value_x(self) -> float:
        """Where the percentages end: the right edge."""
        return rounded(self.frame.width)

    @property
    def text_y(self) -> float:
        return rounded(ROW_HEIGHT / 2)

    @property
    def bar_y(self) -> float:
        return rounded((ROW_HEIGHT - BAR_HEIGHT) / 2)

    @property
    def bar_radius(self) -> float:
        return rounded(BAR_HEIGHT / 2)


def share_bars(
    rows: Iterable,
    *,
    width: float = 480,
    normalize: bool | None = None,
    color: int = 1,
    title: str = "",
) -> ShareBarsChart:
    """Horizontal bars for ``(label, share)`` rows (or ``(label, share, count)``; mappings work too).

    Shares are fractions shown as they are (top provinces may add up to less than 100 %); with counts
    (any value > 1), or ``normalize=True``, they are divided by their sum. The longest bar is the
    largest share; every row has a hover title.
    """
    parsed = share_rows(rows, normalize)
    empty = not parsed or not any(share for _label, share, _extra in parsed)
    frame = _share_frame(parsed, width)
    bar_max = max(frame.width - frame.left - frame.right, 20)
    biggest = max((share for _label, share, _extra in parsed), default=0.0)
    drawn = [_share_row(i, row, frame, bar_max, biggest, color) for i, row in enumerate(parsed)]
    return ShareBarsChart(
        frame=frame,
        title=title or tr(gettext_noop("占比"), "Shares"),
        desc=no_data_text() if empty else join_clauses(r.title for r in drawn),
        empty=empty,
        rows=drawn,
        bar_max=rounded(bar_max),
    )


def _share_frame(parsed: Sequence[tuple[str, float, object]], width: float) -> Frame:
    """Room for the labels (at most 34 % of the width) and the percentages; a row's height per row."""
    label_col = min(max((text_width(label, 13) for label, _s, _e in parsed), default=40) + 14, width * 0.34)
    height = PAD * 2 + len(parsed) * ROW_HEIGHT if parsed else MIN_HEIGHT
    return Frame(width, rounded(height), left=label_col, right=VALUE_COLUMN, top=PAD, bottom=PAD)


def _share_row(i: int, row: tuple[str, float, object], frame: Frame, bar_max: float, biggest: float, color) -> ShareRow:
    """Row ``i``: its bar as long as its share of the largest one, label and percentage either side."""
    label, share, extra = row
    share_text = format_percent(share)
    return ShareRow(
        label=label,
        label_text=truncate(label, frame.left - 12, 13),
        share=share,
        share_text=share_text,
        y=rounded(PAD + i * ROW_HEIGHT),
        width=rounded(bar_max * share / biggest) if biggest else 0.0,
        title=share_title(label, share_text, extra),
        color=int(color) % PALETTE_SIZE,
    )
