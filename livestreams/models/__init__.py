"""The data: livestreams, the products sold in them and by whom, minute series, funnels, sources,
audiences, and the creator roll-up. Models and their reads only; nothing here writes derived rows.

A livestream belongs to one creator. The products sold in it belong to shops (``ProductSale``); an
organization whose products were sold in it, or that worked on it as a partner, *cooperated* in it
(``Cooperation``, one row per livestream and organization). ``CreatorDay`` sums a creator's
livestreams per start day; ``CreatorProductDay`` and ``CreatorShopDay`` their products per start day
and product or shop, with two-year ceilings (``CreatorProductBound``, ``CreatorShopBound``).

Every write of this data goes through ``livestreams.writes`` (named, keyword-only writers, one
transaction each), which keeps what is derived in step by calling it directly: the livestream's
sums and its cooperations from its products, the roll-up (``livestreams.rollup``), ``updated_at``
(the module cache key), the access requests' copy of the creator. There are no ``save``/``delete``/
``update`` overrides and no signals: a write around the writers (``Livestream.objects.create()``,
raw SQL) leaves the derived rows as they were.
"""

from .creator_day import CreatorDay, CreatorDayQuerySet
from .creator_sales import CreatorProductBound, CreatorProductDay, CreatorShopBound, CreatorShopDay
from .livestream import (
    DAY_KEYS,
    SORT_KEYS,
    TOTAL_KEYS,
    ZERO,
    Livestream,
    LivestreamQuerySet,
    every_day,
    local_day,
    local_midnight,
    period_totals,
)
from .metrics import AUDIENCE_SHARE_FIELDS, Audience, Funnel, MinutePoint, Share, Step, TrafficSources
from .sales import Cooperation, CooperationQuerySet, ProductSale, ProductSaleQuerySet

__all__ = [
    "AUDIENCE_SHARE_FIELDS",
    "DAY_KEYS",
    "SORT_KEYS",
    "TOTAL_KEYS",
    "ZERO",
    "Audience",
    "Cooperation",
    "CooperationQuerySet",
    "CreatorDay",
    "CreatorDayQuerySet",
    "CreatorProductBound",
    "CreatorProductDay",
    "CreatorShopBound",
    "CreatorShopDay",
    "Funnel",
    "Livestream",
    "LivestreamQuerySet",
    "MinutePoint",
    "ProductSale",
    "ProductSaleQuerySet",
    "Share",
    "Step",
    "TrafficSources",
    "every_day",
    "local_day",
    "local_midnight",
    "period_totals",
]
