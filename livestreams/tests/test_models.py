import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def product(organization, sku, *, units=1, orders=1, price="10.00"):
    price = Decimal(price)
    return {
        "organization": organization,
        "sku": sku,
        "name": sku,
        "price": price,
        "units": units,
        "orders": orders,
        "gmv": price * units,
    }


# --- constraints ----------------------------------------------------------------------------------


def test_external_id_is_unique():
    livestream = LivestreamFactory(minutes=0, cooperating=[])
    with pytest.raises(IntegrityError):
        Livestream.objects.create(
            creator=livestream.creator, external_id=livestream.external_id, title="x", started_at=at(2026, 11, 1, 19)
        )


def test_a_minute_is_unique_per_livestream():
    livestream = LivestreamFactory(minutes=2, cooperating=[])
    other = LivestreamFactory(minutes=0, cooperating=[])
    first = livestream.minutes.first()
    MinutePoint.objects.create(livestream=other, at=first.at, online=1, entries=1, gmv=0, orders=0)
    with pytest.raises(IntegrityError):
        MinutePoint.objects.create(livestream=livestream, at=first.at, online=1, entries=1, gmv=0, orders=0)


def test_a_livestream_cannot_end_before_it_starts():
    creator = CreatorFactory()
    Livestream.objects.create(
        creator=creator, external_id="same", title="t", started_at=at(2026, 11, 1, 19), ended_at=at(2026, 11, 1, 19)
    )
    Livestream.objects.create(creator=creator, external_id="live", title="t", started_at=at(2026, 11, 1, 19))
    with pytest.raises(IntegrityError):
        Livestream.objects.create(
            creator=creator,
            external_id="bad",
            title="t",
            started_at=at(2026, 11, 1, 19),
            ended_at=at(2026, 11, 1, 18, 59),
        )


def test_the_end_before_start_rule_is_also_a_validation_error():
    livestream = Livestream(
        creator=CreatorFactory(),
        external_id="x",
        title="t",
        started_at=at(2026, 11, 1, 19),
        ended_at=at(2026, 11, 1, 18),
    )
    with pytest.raises(ValidationError) as error:
        livestream.full_clean()
    assert [e.code for e in error.value.error_dict["__all__"]] == ["ended_before_started"]


def test_a_product_sku_is_unique_per_livestream_and_shop():
    livestream = LivestreamFactory(minutes=0, cooperating=[])
    shop, other_shop = ShopFactory(), ShopFactory()
    writes.replace_products(livestream=livestream, products=[product(shop, "A"), product(other_shop, "A")])
    with pytest.raises(IntegrityError):
        ProductSale.objects.create(livestream=livestream, organization=shop, sku="A", name="x", price=1, gmv=1)


@pytest.mark.parametrize("value", [Decimal("1.0001"), Decimal("-0.0001")])
def test_audience_shares_stay_within_zero_and_one(value):
    livestream = LivestreamFactory(minutes=0, cooperating=[])
    Audience.objects.filter(livestream=livestream).delete()
    with pytest.raises(IntegrityError):
        Audience.objects.create(livestream=livestream, female=value)


# --- queries --------------------------------------------------------------------------------------


def test_started_between_counts_calendar_days_in_shanghai():
    creator = CreatorFactory()

    def stream(started_at):
        return LivestreamFactory(creator=creator, started_at=started_at, minutes=0, cooperating=[])

    before = stream(at(2026, 10, 31, 23, 59, 59))
    late = stream(at(2026, 11, 1, 23, 59))  # 15:59 UTC on 11-01
    midnight = stream(at(2026, 11, 2, 0, 0))  # 16:00 UTC on 11-01, but 11-02 in Shanghai
    after = stream(at(2026, 11, 3, 0, 0))

    def between(start, end):
        return set(Livestream.objects.for_creator(creator).started_between(start, end))

    nov = datetime.date(2026, 11, 1)
    assert between(nov, nov) == {late}
    assert between(nov + datetime.timedelta(days=1), nov + datetime.timedelta(days=1)) == {midnight}
    assert between(nov, nov + datetime.timedelta(days=1)) == {late, midnight}
    assert between(nov - datetime.timedelta(days=1), nov + datetime.timedelta(days=2)) == {
        before,
        late,
        midnight,
        after,
    }


def test_queryset_filters_and_order():
    creator, other = CreatorFactory(), CreatorFactory()
    shop = ShopFactory()
    old = LivestreamFactory(creator=creator, started_at=at(2026, 11, 1, 19), minutes=0, cooperating=[shop])
    new = LivestreamFactory(creator=creator, started_at=at(2026, 11, 2, 19), minutes=0, cooperating=[])
    live = LivestreamFactory(creator=other, live=True, started_at=at(2026, 11, 3, 19), minutes=0, cooperating=[shop])

    assert list(Livestream.objects.for_creator(creator).newest_first()) == [new, old]
    assert list(Livestream.objects.live()) == [live]
    assert set(Livestream.objects.ended()) == {old, new}
    assert list(Livestream.objects.cooperated_by(shop).newest_first()) == [live, old]
    assert [c.livestream for c in Cooperation.objects.for_organization(shop).newest_first()] == [live, old]


def test_totals_sum_the_livestreams():
    creator = CreatorFactory()
    streams = [LivestreamFactory(creator=creator, minutes=5) for _ in range(3)]
    totals = Livestream.objects.for_creator(creator).totals()
    assert totals["count"] == 3
    assert totals["gmv"] == sum(s.gmv for s in streams)
    assert totals["orders"] == sum(s.orders for s in streams)
    assert totals["avg_viewers"] == sum(s.viewers for s in streams) // 3
    assert Livestream.objects.none().totals() == {
        "count": 0,
        "gmv": Decimal("0.00"),
        "orders": 0,
        "units": 0,
        "viewers": 0,
        "avg_viewers": 0,
    }


# --- properties and helpers -------------------------------------------------------------------------


def test_duration_runs_up_to_now_while_live():
    with time_machine.travel(at(2026, 11, 1, 20, 30), tick=False):
        live = LivestreamFactory(started_at=at(2026, 11, 1, 19), live=True, minutes=0, cooperating=[])
        ended = LivestreamFactory(
            started_at=at(2026, 11, 1, 19), ended_at=at(2026, 11, 1, 21), minutes=0, cooperating=[]
        )
        assert live.is_live
        assert not ended.is_live
        assert live.duration == datetime.timedelta(minutes=90)
        assert ended.duration == datetime.timedelta(hours=2)


def test_funnel_steps_carry_conversion_rates():
    funnel = Funnel(impressions=1000, entries=100, product_impressions=0, product_clicks=0, orders=0)
    steps = funnel.steps
    assert [s.key for s in steps] == ["impressions", "entries", "product_impressions", "product_clicks", "orders"]
    assert [s.rate for s in steps] == [None, 0.1, 0.0, None, None]
    assert str(steps[0].label) == "直播间曝光"


def test_traffic_source_rows_have_labels_and_shares():
    sources = TrafficSources(feed=50, follow=25, search=0, video=25, paid=0, other=0)
    rows = sources.rows
    assert [(r.key, str(r.label)) for r in rows] == [
        ("feed", "推荐feed"),
        ("follow", "关注"),
        ("search", "搜索"),
        ("video", "短视频"),
        ("paid", "付费流量"),
        ("other", "其他"),
    ]
    assert [r.share for r in rows] == [0.5, 0.25, 0.0, 0.25, 0.0, 0.0]
    assert all(r.share is None for r in TrafficSources().rows)


def test_audience_rows_and_top_places():
    audience = Audience(
        female=Decimal("0.63"),
        male=Decimal("0.37"),
        age_18_23=Decimal("0.1"),
        age_24_30=Decimal("0.2"),
        age_31_40=Decimal("0.3"),
        age_41_50=Decimal("0.3"),
        age_50_plus=Decimal("0.1"),
        new=Decimal("0.7"),
        returning=Decimal("0.3"),
        provinces={"浙江": 0.11, "广东": 0.18, "江苏": 0.11},
        cities={},
    )
    assert [(r.key, r.share) for r in audience.gender_rows] == [("female", 0.63), ("male", 0.37)]
    assert [r.label for r in audience.age_rows] == ["18-23", "24-30", "31-40", "41-50", "50+"]
    assert [r.key for r in audience.visitor_rows] == ["new", "returning"]
    assert [(r.key, r.share) for r in audience.top_provinces()] == [("广东", 0.18), ("江苏", 0.11), ("浙江", 0.11)]
    assert [r.key for r in audience.top_provinces(1)] == ["广东"]
    assert audience.cities_top == []
