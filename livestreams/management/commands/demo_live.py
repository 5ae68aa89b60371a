"""``python manage.py demo_live``: keep the demo's live livestreams moving, for the big screen.

Every ``--interval`` seconds each livestream that is live (no end time) gets a little more data:
viewers online drifting in the current minute's point (a new point each new minute), an order or
two on its first product, more viewers, through the livestream writers
(``livestreams.writes.update_live_figures``), so products, cooperations, sums, the creator roll-up
and ``updated_at`` stay consistent. Open a live livestream's 直播大屏 and watch it refresh every 5 s.
``--once`` adds one tick and stops. For the demo world (``seed_demo``); production data arrives
through ``import_livestreams``.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from livestreams import writes
from livestreams.models import Livestream
from livestreams.writes import PRODUCT_FIELDS


def add_demo_data(livestream: Livestream, rng: random.Random) -> None:
    """A few seconds more of made-up data for ``livestream``: into the current minute's point (a new
    one when the clock has reached a new minute), its first product and its viewers, written
    together by ``writes.update_live_figures()``."""
    now = timezone.now().replace(second=0, microsecond=0)
    last = livestream.minutes.order_by("-at").first()
    online = max(50, (last.online if last else 1_000) + rng.randint(-300, 400))
    entries = rng.randint(20, 120)
    products = list(livestream.products.order_by("pk").values(*PRODUCT_FIELDS))
    orders = rng.randint(0, 2) if products else 0
    gmv = (Decimal(products[0]["price"]) * orders).quantize(Decimal("0.01")) if products else Decimal("0.00")
    if last is not None and last.at >= now:
        minute = (last.at, online, last.entries + entries, last.gmv + gmv, last.orders + orders)
    else:
        minute = (now, online, entries, gmv, orders)
    if orders:
        first = products[0]
        first.update(units=first["units"] + orders, orders=first["orders"] + orders, gmv=first["gmv"] + gmv)
    writes.update_live_figures(
        livestream=livestream,
        minute=minute,
        products=products if orders else None,
        totals={
            "viewers": livestream.viewers + rng.randint(10, 80),
            "peak_online": max(livestream.peak_online, online),
        },
    )


class Command(BaseCommand):
    help = "Add data to every live livestream every few seconds (the demo's big screen)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between minutes (default 5)")
        parser.add_argument("--once", action="store_true", help="add one tick of data to each live livestream and stop")

    def handle(self, *args, interval: float, once: bool, **options):
        if interval <= 0:
            raise CommandError("--interval must be positive")
        rng = random.Random()
        while True:
            live = list(Livestream.objects.live())
            if not live:
                raise CommandError("no live livestream (seed_demo makes one: demo-creator-live)")
            for livestream in live:
                add_demo_data(livestream, rng)
            names = ", ".join(f"{ls.title} ({ls.minutes.count()} minutes)" for ls in live)
            self.stdout.write(f"{timezone.localtime():%H:%M:%S} {len(live)} live: {names}")
            if once:
                return
            time.sleep(interval)
