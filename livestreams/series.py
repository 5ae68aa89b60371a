"""Realistic livestream metrics, deterministic given a ``random.Random``.

Used by the factory (demo world, tests) and by ``make_sample_livestreams`` (the sample import file),
so both tell the same story: online viewers ramp up over the first ~15% of a stream, hold a noisy
plateau and decay at its end; room entries follow the ramp; GMV and orders come in bursts after
product pushes (every 8–15 minutes). The funnel, traffic sources and audience agree with the totals
(funnel orders = the stream's orders; entries split exactly across the sources; shares sum to exactly
1 at four places).

Nothing here touches the database.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

CENT = Decimal("0.01")
SHARE_PLACES = 10_000  # shares are stored with four decimal places

# Each push sells for a few minutes, tailing off.
PUSH_PROFILE = (1.0, 0.75, 0.5, 0.3, 0.15, 0.06)

PRODUCT_CATALOGUE = (
    ("保湿精华 30ml", "99.00"),
    ("氨基酸洁面乳 120g", "59.90"),
    ("防晒喷雾 SPF50", "79.00"),
    ("玻尿酸面膜 10片", "69.00"),
    ("口红礼盒 3支装", "199.00"),
    ("羊绒围巾", "259.00"),
    ("加绒卫衣", "129.00"),
    ("冰丝阔腿裤", "89.90"),
    ("每日坚果 750g", "89.00"),
    ("手工牛肉干 500g", "68.80"),
    ("空气炸锅 5L", "299.00"),
    ("真空保温杯", "49.90"),
    ("婴儿纸尿裤 L码", "139.00"),
    ("儿童保暖内衣套装", "99.00"),
    ("蓝牙降噪耳机", "399.00"),
    ("充电宝 20000mAh", "109.00"),
    ("户外冲锋衣", "459.00"),
    ("露营折叠椅", "129.00"),
    ("乳胶枕", "159.00"),
    ("四件套 纯棉", "229.00"),
)

PROVINCES = (
    ("广东", 12), ("浙江", 8), ("江苏", 8), ("山东", 7), ("河南", 6), ("四川", 6), ("湖北", 5),
    ("湖南", 5), ("福建", 5), ("河北", 4), ("上海", 4), ("北京", 4), ("安徽", 4), ("陕西", 3),
    ("辽宁", 3), ("重庆", 3), ("江西", 3), ("广西", 3), ("云南", 2), ("天津", 2),
)  # fmt: skip
CITIES = (
    ("深圳", 8), ("广州", 8), ("上海", 8), ("北京", 7), ("杭州", 6), ("成都", 6), ("重庆", 5),
    ("武汉", 5), ("苏州", 4), ("南京", 4), ("西安", 4), ("长沙", 4), ("郑州", 3), ("东莞", 3),
    ("青岛", 3), ("厦门", 2), ("合肥", 2), ("宁波", 2),
)  # fmt: skip
AGE_PROFILE = (0.13, 0.36, 0.30, 0.14, 0.07)  # 18-23, 24-30, 31-40, 41-50, 50+


@dataclass(frozen=True, slots=True)
class MinuteSample:
    at: datetime.datetime
    online: int
    entries: int
    gmv: Decimal
    orders: int


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split the integer ``total`` by ``weights`` into integers that sum to ``total`` exactly.

    Largest remainder method; ties go to the earlier index, so the result is deterministic.
    """
    if not weights:
        return []
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        result = [0] * len(weights)
        if total > 0:
            result[-1] = total
        return result
    raw = [total * w / weight_sum for w in weights]
    result = [int(r) for r in raw]
    remainder = total - sum(result)
    by_fraction = sorted(range(len(raw)), key=lambda i: (result[i] - raw[i], i))
    for i in by_fraction[:remainder]:
        result[i] += 1
    return result


def exact_shares(weights: list[float], total: Decimal = Decimal(1)) -> list[Decimal]:
    """Shares with four decimal places, proportional to ``weights``, summing to ``total`` exactly."""
    units = apportion(int(total * SHARE_PLACES), weights)
    return [Decimal(u) / SHARE_PLACES for u in units]


def online_curve(rng: random.Random, count: int, *, peak: int, ended: bool = True) -> list[int]:
    """Online viewers per minute: a ramp over ~15% of the stream, a noisy plateau, a decay at the end."""
    if count <= 0:
        return []
    ramp = max(1, round(count * rng.uniform(0.12, 0.18)))
    decay = max(1, round(count * rng.uniform(0.08, 0.12))) if ended and count > 3 else 0
    drift = 1.0
    values = []
    for i in range(count):
        drift = min(1.08, max(0.85, drift + rng.uniform(-0.02, 0.02)))
        if i < ramp:
            level = 0.08 + 0.92 * ((i + 1) / ramp) ** 0.7
        elif i >= count - decay:
            level = 0.15 + 0.85 * ((count - i) / (decay + 1)) ** 1.3
        else:
            level = 1.0
        values.append(max(0, round(peak * level * drift * rng.uniform(0.96, 1.04))))
    return values


def push_minutes(rng: random.Random, count: int) -> list[int]:
    """The minutes at which a product is pushed: a first one early, then every 8–15 minutes."""
    if count <= 0:
        return []
    pushes = []
    minute = rng.randint(0, min(7, count - 1))
    while minute < count:
        pushes.append(minute)
        minute += rng.randint(8, 15)
    return pushes


def minute_series(
    rng: random.Random,
    *,
    started_at: datetime.datetime,
    count: int,
    peak_online: int,
    gmv: Decimal,
    orders: int,
    ended: bool = True,
) -> list[MinuteSample]:
    """``count`` minutes from ``started_at``; their GMV and orders sum exactly to ``gmv`` and ``orders``."""
    online = online_curve(rng, count, peak=peak_online, ended=ended)
    if not online:
        return []
    ramp_end = max(1, round(count * 0.15))
    turnover = rng.uniform(0.12, 0.22)
    entries = [
        round(value * turnover * (2.2 - 1.2 * i / ramp_end if i < ramp_end else 1.0) * rng.uniform(0.9, 1.1))
        for i, value in enumerate(online)
    ]

    # Sales weights: a trickle proportional to the audience, plus a tailing burst after each push.
    top = max(online) or 1
    weights = [0.03 * value / top for value in online]
    for push in push_minutes(rng, count):
        intensity = rng.uniform(0.6, 1.6)
        for offset, factor in enumerate(PUSH_PROFILE):
            if push + offset < count:
                weights[push + offset] += intensity * factor * (0.3 + 0.7 * online[push + offset] / top)
    cents = apportion(int((gmv / CENT).to_integral_value()), weights)
    order_counts = apportion(orders, weights)

    step = datetime.timedelta(minutes=1)
    return [
        MinuteSample(
            at=started_at + i * step,
            online=online[i],
            entries=entries[i],
            gmv=Decimal(cents[i]) * CENT,
            orders=order_counts[i],
        )
        for i in range(count)
    ]


def totals_for(rng: random.Random, minutes: list[MinuteSample]) -> dict[str, int]:
    """Viewers, peak online, average watch time and new followers that agree with the minute series."""
    if not minutes:
        return {"viewers": 0, "peak_online": 0, "avg_watch_seconds": 0, "new_followers": 0}
    peak = max(m.online for m in minutes)
    viewers = max(peak, round(sum(m.entries for m in minutes) * rng.uniform(0.85, 0.95)))
    watched_seconds = sum(m.online for m in minutes) * 60
    return {
        "viewers": viewers,
        "peak_online": peak,
        "avg_watch_seconds": round(watched_seconds / viewers) if viewers else 0,
        "new_followers": round(viewers * rng.uniform(0.005, 0.03)),
    }


def funnel_for(rng: random.Random, *, viewers: int, orders: int) -> dict[str, int]:
    """Impressions → entries → product impressions → product clicks → orders, never widening."""
    # Each step keeps a plausible share of the one before, widening the upper steps if the sales need it.
    product_clicks = max(
        round(viewers * rng.uniform(0.45, 0.8) * rng.uniform(0.08, 0.2)), round(orders * rng.uniform(2.5, 5))
    )
    product_impressions = max(round(viewers * rng.uniform(0.45, 0.8)), round(product_clicks * rng.uniform(4, 8)))
    entries = max(viewers, round(product_impressions * rng.uniform(1.2, 1.6)))
    return {
        "impressions": max(entries, round(entries * rng.uniform(4.0, 10.0))),
        "entries": entries,
        "product_impressions": product_impressions,
        "product_clicks": product_clicks,
        "orders": orders,
    }


SOURCE_KEYS = ("feed", "follow", "search", "video", "paid", "other")


def sources_for(rng: random.Random, *, entries: int) -> dict[str, int]:
    """Room entries split across the six traffic sources; they sum to ``entries`` exactly."""
    weights = [
        rng.uniform(0.5, 0.65),
        rng.uniform(0.15, 0.25),
        rng.uniform(0.04, 0.08),
        rng.uniform(0.1, 0.2),
        rng.uniform(0.03, 0.1),
        rng.uniform(0.01, 0.03),
    ]
    return dict(zip(SOURCE_KEYS, apportion(entries, weights), strict=True))


def _places(rng: random.Random, table, *, pick: int, coverage: tuple[float, float]) -> dict[str, float]:
    chosen = rng.sample(table, pick)
    weights = [weight * rng.uniform(0.6, 1.4) for _name, weight in chosen]
    covered = Decimal(round(rng.uniform(*coverage), 4)).quantize(Decimal("0.0001"))
    shares = exact_shares(weights, covered)
    ordered = sorted(zip((name for name, _w in chosen), shares, strict=True), key=lambda item: -item[1])
    return {name: float(share) for name, share in ordered}


def audience_for(rng: random.Random) -> dict:
    """Audience shares (Decimal, four places) named like the Audience model's fields, plus places."""
    female = rng.uniform(0.35, 0.85)
    gender = exact_shares([female, 1 - female])
    ages = exact_shares([share * rng.uniform(0.6, 1.4) for share in AGE_PROFILE])
    new = rng.uniform(0.5, 0.85)
    visitors = exact_shares([new, 1 - new])
    return {
        "female": gender[0],
        "male": gender[1],
        "age_18_23": ages[0],
        "age_24_30": ages[1],
        "age_31_40": ages[2],
        "age_41_50": ages[3],
        "age_50_plus": ages[4],
        "new": visitors[0],
        "returning": visitors[1],
        "provinces": _places(rng, PROVINCES, pick=rng.randint(6, 10), coverage=(0.55, 0.85)),
        "cities": _places(rng, CITIES, pick=rng.randint(6, 10), coverage=(0.3, 0.5)),
    }


def products_for(rng: random.Random, count: int) -> list[dict]:
    """``count`` products (distinct SKUs) with units, orders and GMV = price × units."""
    chosen = rng.sample(PRODUCT_CATALOGUE, min(count, len(PRODUCT_CATALOGUE)))
    rows = []
    for name, price in chosen:
        price_value = Decimal(price)
        units = rng.randint(10, 600)
        orders = max(1, units - rng.randint(0, units // 8))
        rows.append(
            {
                "sku": f"P-{PRODUCT_CATALOGUE.index((name, price)) + 1001}",
                "name": name,
                "price": price_value,
                "units": units,
                "orders": orders,
                "gmv": (price_value * units).quantize(CENT),
            }
        )
    return rows
