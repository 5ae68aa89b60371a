"""``demo_live``: the demo's live livestream gets more data through the livestream writers."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from livestreams.factories import LivestreamFactory
from livestreams.models import CreatorDay, Livestream
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("demo_live", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_ticks_fill_the_current_minute_then_start_the_next_and_keep_sums_consistent():
    creator, shop = CreatorFactory(), ShopFactory()
    live = LivestreamFactory(creator=creator, cooperating=[shop], live=True, minutes=10)
    ended = LivestreamFactory(creator=creator, cooperating=[shop], minutes=10)
    before = Livestream.objects.get(pk=live.pk)
    last = before.minutes.order_by("-at").first()
    next_minute = last.at + datetime.timedelta(minutes=1, seconds=5)

    with time_machine.travel(next_minute, tick=False):
        assert "1 live:" in run("--once")  # a new minute point at the new minute
        assert Livestream.objects.get(pk=live.pk).minutes.count() == 11
        run("--once")  # same minute: into that point
        assert Livestream.objects.get(pk=live.pk).minutes.count() == 11
    with time_machine.travel(next_minute + datetime.timedelta(minutes=1), tick=False):
        run("--once")
        assert Livestream.objects.get(pk=live.pk).minutes.count() == 12

    after = Livestream.objects.get(pk=live.pk)
    assert after.viewers > before.viewers
    assert after.gmv >= before.gmv
    assert after.ended_at is None
    assert after.peak_online >= max(m.online for m in after.minutes.all())
    # The livestream's sums are its products', and the creator roll-up follows them.
    products = after.products.aggregate(gmv=Sum("gmv"), orders=Sum("orders"))
    assert (after.gmv, after.orders) == (products["gmv"], products["orders"])
    rolled = CreatorDay.objects.filter(creator=creator).aggregate(gmv=Sum("gmv"), viewers=Sum("viewers"))
    both = Livestream.objects.filter(creator=creator).aggregate(gmv=Sum("gmv"), viewers=Sum("viewers"))
    assert rolled == both
    assert Livestream.objects.get(pk=ended.pk).minutes.count() == 10  # ended ones are left alone


def test_without_a_live_livestream_it_says_so():
    LivestreamFactory(minutes=3)
    with pytest.raises(CommandError, match="no live livestream"):
        run("--once")


def test_the_interval_must_be_positive():
    with pytest.raises(CommandError, match="positive"):
        run("--interval", "0")
