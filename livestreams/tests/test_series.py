import datetime
import random
import statistics
from decimal import Decimal

import pytest

from livestreams import series

START = datetime.datetime(2026, 11, 1, 11, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("total", "weights"),
    [(100, [1, 1, 1]), (7, [0.2, 0.5, 0.3]), (0, [1, 2]), (5, [0, 0]), (1_000_000_007, [3, 1e-9, 2])],
)
def test_apportion_sums_exactly(total, weights):
    parts = series.apportion(total, weights)
    assert sum(parts) == total
    assert all(part >= 0 for part in parts)


def test_exact_shares_sum_to_one_at_four_places():
    rng = random.Random(1)
    for _ in range(200):
        shares = series.exact_shares([rng.random() + 0.01 for _ in range(rng.randint(2, 6))])
        assert sum(shares) == 1
        assert all(share == share.quantize(Decimal("0.0001")) and share >= 0 for share in shares)


def test_online_ramps_up_holds_and_decays():
    rng = random.Random(3)
    online = series.online_curve(rng, 200, peak=10_000)
    plateau = statistics.mean(online[40:170])
    assert online[0] < plateau / 3
    assert online[-1] < plateau / 2
    assert 8_000 < plateau < 11_000


def test_a_live_curve_does_not_decay():
    online = series.online_curve(random.Random(3), 100, peak=10_000, ended=False)
    assert online[-1] > statistics.mean(online[30:90]) * 0.8


def test_minute_series_distributes_gmv_and_orders_in_bursts():
    rng = random.Random(5)
    points = series.minute_series(
        rng, started_at=START, count=120, peak_online=5000, gmv=Decimal("12345.67"), orders=321
    )
    assert len(points) == 120
    assert [p.at for p in points[:2]] == [START, START + datetime.timedelta(minutes=1)]
    assert sum(p.gmv for p in points) == Decimal("12345.67")
    assert sum(p.orders for p in points) == 321
    # Bursts: the best minutes sell far more than the typical one.
    gmv = sorted(p.gmv for p in points)
    assert gmv[-1] > 5 * gmv[len(gmv) // 2]
    # Entries follow the ramp: more arrive per viewer early on.
    assert points[1].entries / points[1].online > points[60].entries / points[60].online


def test_push_minutes_are_8_to_15_apart():
    pushes = series.push_minutes(random.Random(9), 300)
    gaps = [b - a for a, b in zip(pushes, pushes[1:], strict=False)]
    assert pushes[0] <= 7
    assert all(8 <= gap <= 15 for gap in gaps)


def test_funnel_never_widens_and_keeps_the_orders():
    rng = random.Random(11)
    for _ in range(100):
        orders = rng.randint(0, 5000)
        funnel = series.funnel_for(rng, viewers=rng.randint(0, 100_000), orders=orders)
        values = list(funnel.values())
        assert values == sorted(values, reverse=True)
        assert funnel["orders"] == orders


def test_sources_split_the_entries_exactly():
    sources = series.sources_for(random.Random(2), entries=12_345)
    assert list(sources) == ["feed", "follow", "search", "video", "paid", "other"]
    assert sum(sources.values()) == 12_345
    assert sources["feed"] == max(sources.values())


def test_empty_series():
    rng = random.Random(0)
    assert series.minute_series(rng, started_at=START, count=0, peak_online=10, gmv=Decimal(1), orders=1) == []
    assert series.totals_for(rng, []) == {"viewers": 0, "peak_online": 0, "avg_watch_seconds": 0, "new_followers": 0}
