"""``python manage.py make_sample_livestreams``: write the sample import file, deterministically.

The livestreams belong to the creators and shops that ``seed_demo`` creates (creators ``dy_creator``,
``dy_creator2``, ``dy_20000``…``dy_20029``; shops ``shop-demo``, ``shop-0000``…``shop-0029``), so
``seed_demo`` followed by ``import_livestreams docs/sample-livestreams.jsonl`` imports every line.
The same seed, count and end date always give the same file; no database is needed.
"""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from livestreams import series

DEFAULT_OUTPUT = Path(settings.BASE_DIR) / "docs" / "sample-livestreams.jsonl"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CREATORS = ["dy_creator", "dy_creator2", *(f"dy_{20000 + i}" for i in range(30))]
SHOPS = ["shop-demo", *(f"shop-{i:04d}" for i in range(30))]
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
    "工厂直发专场",
    "新品试用会",
)


class Command(BaseCommand):
    help = "Write a deterministic sample JSON Lines file of livestreams for the seed_demo creators and shops."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="file to write ('-' for standard output)")
        parser.add_argument("--count", type=int, default=300, help="number of livestreams (default 300)")
        parser.add_argument("--seed", type=int, default=20261128)
        parser.add_argument(
            "--end-date",
            type=datetime.date.fromisoformat,
            default=datetime.date(2026, 11, 27),
            help="the last day with a livestream (YYYY-MM-DD); streams spread over the 120 days up to it",
        )
        parser.add_argument("--min-minutes", type=int, default=60)
        parser.add_argument("--max-minutes", type=int, default=180)

    def handle(self, *args, output, count, seed, end_date, min_minutes, max_minutes, **options):
        if count < 0 or not 0 < min_minutes <= max_minutes:
            raise CommandError("need --count >= 0 and 0 < --min-minutes <= --max-minutes")
        records = sample_records(
            random.Random(seed), count=count, end_date=end_date, minutes=(min_minutes, max_minutes)
        )
        lines = "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
        if output == "-":
            self.stdout.write(lines, ending="")
            return
        Path(output).write_text(lines, encoding="utf-8")
        self.stderr.write(f"wrote {len(records)} livestreams to {output} ({len(lines.encode()) / 1e6:.1f} MB)")


def sample_records(rng: random.Random, *, count: int, end_date: datetime.date, minutes: tuple[int, int]) -> list[dict]:
    """``count`` import records, oldest first; the demo creator gets the most, shop-demo sells often."""
    creator_weights = [15, 8] + [77 / 30] * 30
    starts = []
    for _ in range(count):
        day = end_date - datetime.timedelta(days=rng.randint(0, 119))
        at = datetime.time(hour=rng.randint(10, 21), minute=rng.choice((0, 0, 15, 30, 45)))
        starts.append(
            (
                datetime.datetime.combine(day, at, tzinfo=SHANGHAI),
                rng.choices(CREATORS, creator_weights)[0],
            )
        )
    starts.sort()
    return [
        sample_record(
            rng,
            external_id=f"sample-{index:04d}",
            creator=creator,
            started_at=started_at,
            count=rng.randint(*minutes),
        )
        for index, (started_at, creator) in enumerate(starts, start=1)
    ]


def sample_record(
    rng: random.Random, *, external_id: str, creator: str, started_at: datetime.datetime, count: int
) -> dict:
    """One livestream in the import format, its figures consistent with one another."""
    shop_weights = [12 if creator == "dy_creator" else 3] + [1] * 30
    wanted = rng.randint(1, 3)
    shops = []
    while len(shops) < wanted:
        shop = rng.choices(SHOPS, shop_weights)[0]
        if shop not in shops:
            shops.append(shop)
    products = [{"shop": shop, **row} for shop in shops for row in series.products_for(rng, rng.randint(1, 4))]
    gmv = sum(row["gmv"] for row in products)
    orders = sum(row["orders"] for row in products)
    points = series.minute_series(
        rng, started_at=started_at, count=count, peak_online=rng.randint(1500, 20000), gmv=gmv, orders=orders
    )
    totals = series.totals_for(rng, points)
    audience = series.audience_for(rng)
    return {
        "external_id": external_id,
        "creator": creator,
        "title": rng.choice(TITLES),
        "started_at": _iso(started_at),
        "ended_at": _iso(started_at + datetime.timedelta(minutes=count)),
        "totals": totals,
        "products": [{**row, "price": f"{row['price']:.2f}", "gmv": f"{row['gmv']:.2f}"} for row in products],
        "minutes": [
            {"at": _iso(p.at), "online": p.online, "entries": p.entries, "gmv": f"{p.gmv:.2f}", "orders": p.orders}
            for p in points
        ],
        "funnel": series.funnel_for(rng, viewers=totals["viewers"], orders=orders),
        "sources": series.sources_for(rng, entries=totals["viewers"]),
        "audience": {
            "gender": {"female": float(audience["female"]), "male": float(audience["male"])},
            "age": {
                band: float(audience[name])
                for band, name in (
                    ("18-23", "age_18_23"),
                    ("24-30", "age_24_30"),
                    ("31-40", "age_31_40"),
                    ("41-50", "age_41_50"),
                    ("50+", "age_50_plus"),
                )
            },
            "provinces": audience["provinces"],
            "cities": audience["cities"],
            "new_vs_returning": {"new": float(audience["new"]), "returning": float(audience["returning"])},
        },
    }


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()
