import datetime
import zoneinfo
from decimal import Decimal

import factory.random
import pytest
import time_machine
from django.db.models import Max, Sum

from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 28, 20, 30, tzinfo=SHANGHAI)


def test_cooperating_shop_and_agency_both_get_products_and_a_cooperation():
    creator, shop, agency = CreatorFactory(), ShopFactory(), AgencyFactory()
    livestream = LivestreamFactory(creator=creator, cooperating=[shop, agency])

    assert livestream.creator == creator
    cooperations = {c.organization: c for c in livestream.cooperations.all()}
    assert set(cooperations) == {shop, agency}
    for organization, cooperation in cooperations.items():
        products = livestream.products.filter(organization=organization)
        assert 1 <= products.count() <= 4
        assert cooperation.gmv == products.aggregate(total=Sum("gmv"))["total"]
        assert cooperation.orders == products.aggregate(total=Sum("orders"))["total"]
    assert livestream.gmv == sum(c.gmv for c in cooperations.values())
    assert livestream.units == sum(c.units for c in cooperations.values())


def test_the_metrics_agree_with_one_another():
    livestream = Livestream.objects.get(pk=LivestreamFactory().pk)
    minutes = livestream.minutes.all()

    assert 60 <= minutes.count() <= 240
    assert minutes.count() == (livestream.ended_at - livestream.started_at) // datetime.timedelta(minutes=1)
    assert all(livestream.started_at <= m.at <= livestream.ended_at for m in minutes)
    assert minutes.aggregate(total=Sum("gmv"))["total"] == livestream.gmv
    assert minutes.aggregate(total=Sum("orders"))["total"] == livestream.orders
    assert minutes.aggregate(peak=Max("online"))["peak"] == livestream.peak_online
    assert livestream.viewers >= livestream.peak_online > 0
    assert livestream.funnel.orders == livestream.orders
    assert livestream.sources.total == livestream.viewers
    audience = livestream.audience
    assert audience.female + audience.male == 1
    assert sum(getattr(audience, name) for name, _label in audience.AGE_BANDS) == 1
    assert audience.new + audience.returning == 1
    assert 0 < sum(audience.provinces.values()) <= 1
    assert 0 < sum(audience.cities.values()) <= 1


def test_live_has_no_end_and_minutes_up_to_now():
    with time_machine.travel(NOW, tick=False):
        livestream = LivestreamFactory(live=True)
    assert livestream.ended_at is None
    assert livestream.is_live
    assert datetime.timedelta(minutes=40) <= NOW - livestream.started_at <= datetime.timedelta(minutes=90)
    last = livestream.minutes.last()
    assert last.at <= NOW
    assert NOW - last.at < datetime.timedelta(minutes=1)
    assert livestream.minutes.first().at == livestream.started_at


def test_minutes_sets_the_count_including_zero():
    assert LivestreamFactory(minutes=0).minutes.count() == 0
    five = LivestreamFactory(minutes=5)
    assert five.minutes.count() == 5
    assert five.ended_at - five.started_at == datetime.timedelta(minutes=5)


def test_started_at_and_totals_can_be_given():
    started_at = datetime.datetime(2026, 11, 1, 19, tzinfo=SHANGHAI)
    livestream = LivestreamFactory(started_at=started_at, duration=90, viewers=7, cooperating=[])
    assert livestream.started_at == started_at
    assert livestream.ended_at == started_at + datetime.timedelta(minutes=90)
    assert livestream.viewers == 7
    assert livestream.minutes.count() == 90
    assert livestream.gmv == Decimal("0.00")
    assert not livestream.cooperations.exists()


def test_default_cooperating_is_one_new_shop():
    livestream = LivestreamFactory(minutes=0)
    assert [c.organization.kind for c in livestream.cooperations.all()] == ["shop"]


def test_an_existing_external_id_is_returned_as_it_is():
    first = LivestreamFactory(external_id="demo-1", minutes=1)
    again = LivestreamFactory(external_id="demo-1", minutes=5, title="other")
    assert again.pk == first.pk
    assert Livestream.objects.count() == 1
    assert again.minutes.count() == 1


def test_the_same_seed_gives_the_same_livestream():
    creator, shop = CreatorFactory(), ShopFactory()
    started_at = datetime.datetime(2026, 11, 1, 19, tzinfo=SHANGHAI)

    def figures():
        factory.random.reseed_random(7)
        livestream = LivestreamFactory(creator=creator, cooperating=[shop], started_at=started_at)
        return (
            livestream.gmv,
            livestream.viewers,
            list(livestream.minutes.values_list("online", "gmv")),
            list(livestream.products.values_list("sku", "units")),
        )

    assert figures() == figures()


def test_build_saves_nothing():
    livestream = LivestreamFactory.build(cooperating=[])
    assert livestream.pk is None
    assert isinstance(livestream, Livestream)
