"""The speed-ups: reads that answer from the creator roll-up (``CreatorDay``) what the plain ORM
answers from the livestreams, one row per day instead of ten livestreams a day.

Each function here equals a plain ``LivestreamQuerySet`` read exactly, which stays the definition;
``livestreams/tests/test_speedups.py`` compares them on random data (Hypothesis, SQLite and
PostgreSQL), also after random writes through ``livestreams.writes``:

=====================================================  =====================================================
speed-up                                               plain equivalent
=====================================================  =====================================================
``creator_totals_with_previous(creator, start, end)``  ``Livestream.objects.for_creator(creator)``
                                                       ``.totals_with_previous(start, end)``
``creator_daily(creator, start, end)``                 ``Livestream.objects.for_creator(creator)``
                                                       ``.daily(start, end)``
``LIVESTREAM_WITH_CREATOR.objects(livestream=id)``     ``Livestream.objects.select_related("creator")``
                                                       ``.filter(pk=id)`` (compiled once: every livestream
                                                       page starts with it)
=====================================================  =====================================================

The roll-up reads are right as long as the roll-up is: ``livestreams.rollup`` keeps it, called by every writer.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F, Q, Sum

from portal.compiled import CompiledQuery
from portal.models import Creator

from .models import CreatorDay, Livestream, every_day, period_totals
from .rollup import SUMS

# Each roll-up column, re-summed over days, and the name the plain reads give that figure.
FIGURES = {column: "count" if column == "livestreams" else column for column in SUMS}


def creator_totals_with_previous(
    creator: Creator, start: datetime.date, end: datetime.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``creator``'s totals of ``[start, end]`` and of the period of the same length just before,
    in one aggregate over at most 2 × length roll-up rows, however many livestreams there were."""
    length = (end - start).days + 1
    previous_start = start - datetime.timedelta(days=length)
    current = Q(day__gte=start)
    sums = {}
    for name, period in (("cur", current), ("prev", ~current)):
        for column, figure in FIGURES.items():
            sums[f"{name}_{figure}"] = Sum(column, filter=period)
    row = (
        CreatorDay.objects.for_creator(creator)
        .filter(day__gte=previous_start, day__lte=end)
        .order_by()
        .aggregate(**sums)
    )
    return period_totals(row, "cur"), period_totals(row, "prev")


def creator_daily(creator: Creator, start: datetime.date, end: datetime.date) -> list[dict[str, Any]]:
    """``creator``'s GMV, orders and livestream count per day of ``[start, end]``, every day
    present: the roll-up's rows of those days."""
    rows = (
        CreatorDay.objects.for_creator(creator)
        .filter(day__gte=start, day__lte=end)
        .values("day", "gmv", "orders", count=F("livestreams"))
    )
    return every_day(rows, start, end)


LIVESTREAM_WITH_CREATOR = CompiledQuery(
    Livestream,
    lambda livestream: Livestream.objects.select_related("creator").filter(pk=livestream),
    livestream="id",
)
