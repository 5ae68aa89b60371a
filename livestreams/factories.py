"""Factories for livestreams and their metrics (factory-boy), used by tests and ``seed_demo``.

``LivestreamFactory(creator=..., cooperating=[org, ...])`` returns a Livestream written through
``livestreams.writes.upsert_livestream()`` with its minute points, funnel, traffic sources,
audience, and 1–4 products per cooperating organization (hence a Cooperation each). Parameters:

- ``cooperating``: organizations whose products are sold in it (default: one new shop; ``[]`` for none)
- ``partners``: organizations that cooperate in it without products (default none)
- ``minutes``: how many minute points (default: one per minute of the stream; ``0`` for none)
- ``duration``: the stream's length in minutes when it has ended (default 60–240, or ``minutes``)
- ``live=True``: started 40–90 minutes ago, ``ended_at`` None, minute points up to now
- ``started_at`` / ``ended_at`` / totals (``viewers``, ``peak_online`` ...): override what is generated
  (the sums ``gmv``, ``orders``, ``units`` are always the products')

Randomness comes from factory-boy's shared generator, so ``factory.random.reseed_random()`` makes a
run repeatable. A given ``external_id`` that already exists is returned as it is (get-or-create, like
the party factories), which keeps ``seed_demo`` idempotent.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
import factory.random
from django.utils import timezone
from factory.django import DjangoModelFactory

from portal.factories import CreatorFactory, FreshSequence, ShopFactory

from . import series, writes
from .models import Livestream

TITLES = (
    "双十一返场 · 美妆专场",
    "冬季穿搭福利夜",
    "零食囤货节",
    "家居好物清单",
    "宝妈必备专场",
    "数码新品首发",
    "户外装备特卖",
    "护肤干货分享",
    "年货节提前购",
    "周末宠粉福利",
)
TOTAL_FIELDS = ("viewers", "peak_online", "avg_watch_seconds", "new_followers")
# Factory-only declarations, consumed by _create(); never passed to the model.
PARAMS = ("cooperating", "partners", "minutes", "duration", "live")


def _rng():
    return factory.random.randgen


def _default_started_at(live: bool) -> datetime.datetime:
    rng = _rng()
    now = timezone.now()
    if live:
        return (now - datetime.timedelta(minutes=rng.randint(40, 90))).replace(second=0, microsecond=0)
    day = timezone.localdate(now) - datetime.timedelta(days=rng.randint(1, 60))
    at = datetime.time(hour=rng.randint(18, 21), minute=rng.choice((0, 0, 15, 30, 45)))
    return datetime.datetime.combine(day, at, tzinfo=timezone.get_default_timezone())


def _elapsed_minutes(started_at: datetime.datetime) -> int:
    """Minute points from ``started_at`` up to now, both ends included (at least one)."""
    return max(1, int((timezone.now() - started_at).total_seconds() // 60) + 1)


class LivestreamFactory(FreshSequence, DjangoModelFactory):
    class Meta:
        model = Livestream
        skip_postgeneration_save = True

    creator = factory.SubFactory(CreatorFactory)
    external_id = factory.Sequence(lambda n: f"ls-{n:06d}")
    title = factory.Sequence(lambda n: TITLES[n % len(TITLES)])

    live = False
    minutes = None
    duration = factory.LazyAttribute(
        lambda o: o.minutes if o.minutes is not None and o.minutes > 0 else _rng().randint(60, 240)
    )
    cooperating = factory.LazyFunction(lambda: [ShopFactory()])
    partners = ()
    started_at = factory.LazyAttribute(lambda o: _default_started_at(o.live))
    ended_at = factory.LazyAttribute(
        lambda o: None if o.live else o.started_at + datetime.timedelta(minutes=o.duration)
    )

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        for name in PARAMS:
            kwargs.pop(name, None)
        return super()._build(model_class, *args, **kwargs)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        params = {name: kwargs.pop(name) for name in PARAMS}
        existing = Livestream.objects.filter(external_id=kwargs["external_id"]).first()
        if existing is not None:
            return existing
        return create_livestream(params=params, fields=kwargs)


def create_livestream(*, params: dict, fields: dict) -> Livestream:
    """Generate the series first, so the totals (peak online, viewers ...) agree with it; then write
    it all through ``writes.upsert_livestream()`` (sums, cooperations and roll-up kept there)."""
    unknown = set(fields) - {"creator", "external_id", "title", "started_at", "ended_at", *TOTAL_FIELDS}
    if unknown:
        raise TypeError(f"LivestreamFactory cannot set {', '.join(sorted(unknown))}: the writers derive them")
    rng = _rng()
    started_at = fields["started_at"]
    ended_at = fields["ended_at"]
    count = params["minutes"]
    if count is None:
        if ended_at is None:
            count = _elapsed_minutes(started_at)
        else:
            count = max(1, int((ended_at - started_at).total_seconds() // 60))

    # Products first: the minute series distributes their GMV and orders.
    # Any organization may be given products here, agencies included (so demo agencies cooperate);
    # the import format accepts shops only.
    product_rows = []
    for organization in params["cooperating"]:
        for row in series.products_for(rng, rng.randint(1, 4)):
            product_rows.append({**row, "organization": organization})
    gmv = sum((row["gmv"] for row in product_rows), Decimal("0.00"))
    orders = sum(row["orders"] for row in product_rows)

    points = series.minute_series(
        rng,
        started_at=started_at,
        count=count,
        peak_online=rng.randint(2000, 20000),
        gmv=gmv,
        orders=orders,
        ended=ended_at is not None,
    )
    generated = series.totals_for(rng, points)
    totals = {name: generated[name] if fields.get(name) is None else fields[name] for name in TOTAL_FIELDS}
    return writes.upsert_livestream(
        external_id=fields["external_id"],
        creator=fields["creator"],
        title=fields["title"],
        started_at=started_at,
        ended_at=ended_at,
        totals=totals,
        products=product_rows,
        partners=params["partners"],
        minutes=[(p.at, p.online, p.entries, p.gmv, p.orders) for p in points],
        funnel=series.funnel_for(rng, viewers=totals["viewers"], orders=orders),
        sources=series.sources_for(rng, entries=totals["viewers"]),
        audience=series.audience_for(rng),
    )
