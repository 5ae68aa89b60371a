"""The box every chart is drawn in (:class:`Frame`) and what every chart has besides its marks (:class:`Chart`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .scales import rounded
from .text import no_data_text

WIDTH = 720
HEIGHT = 240
PALETTE_SIZE = 8


def new_chart_id(prefix: str = "chart") -> str:
    """A DOM id that stays unique on a page, also across HTMX fragments rendered by other workers."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Frame:
    """The SVG viewBox (``width`` × ``height``) and the plot rectangle inside its margins.

    Margins are kept as computed (not rounded): charts derive further positions from them.
    """

    width: float
    height: float
    left: float = 0
    right: float = 0
    top: float = 0
    bottom: float = 0

    @property
    def x0(self) -> float:
        return rounded(self.left)

    @property
    def x1(self) -> float:
        return rounded(self.width - self.right)

    @property
    def y0(self) -> float:
        return rounded(self.top)

    @property
    def y1(self) -> float:
        return rounded(self.height - self.bottom)

    @property
    def plot_width(self) -> float:
        return rounded(self.x1 - self.x0)

    @property
    def plot_height(self) -> float:
        return rounded(self.y1 - self.y0)

    @property
    def cx(self) -> float:
        """The middle of the plot rectangle."""
        return rounded((self.x0 + self.x1) / 2)

    @property
    def cy(self) -> float:
        return rounded((self.y0 + self.y1) / 2)

    @property
    def center_x(self) -> float:
        """The middle of the whole viewBox, margins included."""
        return rounded(self.width / 2)

    @property
    def center_y(self) -> float:
        return rounded(self.height / 2)

    @property
    def y_label_x(self) -> float:
        """Where the left axis' labels end."""
        return rounded(self.x0 - 7)

    @property
    def y2_label_x(self) -> float:
        """Where the right axis' labels start."""
        return rounded(self.x1 + 7)

    @property
    def x_label_y(self) -> float:
        """Baseline of the x axis' labels."""
        return rounded(self.y1 + 17)


@dataclass(kw_only=True)
class Chart:
    """What every chart has: its frame, an accessible name and description, the empty state, a DOM id.

    ``empty``: nothing to draw (no rows, or only zeros); the template then shows ``empty_text``
    ("暂无数据" in the active language). ``id`` is set by the template tag.
    """

    frame: Frame
    title: str
    desc: str
    empty: bool
    empty_text: str = field(default_factory=no_data_text)
    id: str = ""

    @property
    def width(self) -> float:
        """The viewBox' width (the frame's)."""
        return self.frame.width

    @property
    def height(self) -> float:
        return self.frame.height
