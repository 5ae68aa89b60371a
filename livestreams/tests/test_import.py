import copy
import datetime
import gzip
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from grants import services
from grants.models import LivestreamAccessRequest
from livestreams import writes
from livestreams.importer import import_lines
from livestreams.models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


@pytest.fixture
def parties():
    return {
        "creator": CreatorFactory(douyin_id="dy_a"),
        "creator2": CreatorFactory(douyin_id="dy_b"),
        "shop": ShopFactory(code="shop-a"),
        "shop2": ShopFactory(code="shop-b"),
        "agency": AgencyFactory(code="agency-a"),
    }


def make_record(external_id="ls-1", **overrides):
    """A good record: 19:00–21:00 on 2026-11-01 (+08:00), two products of two shops, three minutes."""
    record = {
        "external_id": external_id,
        "creator": "dy_a",
        "title": "双十一返场 · 美妆专场",
        "started_at": "2026-11-01T19:00:00+08:00",
        "ended_at": "2026-11-01T21:00:00+08:00",
        "totals": {"viewers": 123456, "peak_online": 8200, "avg_watch_seconds": 95, "new_followers": 1520},
        "products": [
            {
                "shop": "shop-a",
                "sku": "P-1001",
                "name": "保湿精华 30ml",
                "price": "99.00",
                "units": 120,
                "orders": 110,
                "gmv": "11880.00",
            },
            {
                "shop": "shop-b",
                "sku": "P-2001",
                "name": "羊绒围巾",
                "price": "259.50",
                "units": 10,
                "orders": 9,
                "gmv": "2595.00",
            },
        ],
        "minutes": [
            {"at": "2026-11-01T19:00:00+08:00", "online": 1200, "entries": 300, "gmv": "1200.00", "orders": 12},
            {"at": "2026-11-01T19:01:00+08:00", "online": 1500, "entries": 280, "gmv": "0.10", "orders": 1},
            {"at": "2026-11-01T21:00:00+08:00", "online": 900, "entries": 20, "gmv": "0", "orders": 0},
        ],
        "funnel": {
            "impressions": 1000000,
            "entries": 120000,
            "product_impressions": 80000,
            "product_clicks": 12000,
            "orders": 2100,
        },
        "sources": {"feed": 62000, "follow": 21000, "search": 7000, "video": 17000, "paid": 9000, "other": 2000},
        "audience": {
            "gender": {"female": 0.63, "male": 0.37},
            "age": {"18-23": 0.12, "24-30": 0.38, "31-40": 0.31, "41-50": 0.13, "50+": 0.06},
            "provinces": {"广东": 0.18, "浙江": 0.11, "江苏": 0.09},
            "cities": {"深圳": 0.07, "杭州": 0.06, "上海": 0.05},
            "new_vs_returning": {"new": 0.7, "returning": 0.3},
        },
    }
    record.update(overrides)
    return record


def dumps(record) -> str:
    return json.dumps(record, ensure_ascii=False)


def write(tmp_path: Path, lines, name="data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def run(*args):
    """Call the command; return (stdout, stderr, exit code)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_livestreams", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code = error.returncode
    return out.getvalue(), err.getvalue(), code


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("line ")]


# --- a good file ----------------------------------------------------------------------------------


def test_good_file_imports_with_exact_values(parties, tmp_path):
    live = make_record("ls-2", creator="dy_b", ended_at=None, products=[], minutes=[])
    out, err, code = run(write(tmp_path, [dumps(make_record()), dumps(live)]))

    assert (out, err, code) == ("created 2, updated 0, rejected 0\n", "", 0)
    livestream = Livestream.objects.get(external_id="ls-1")
    assert livestream.creator == parties["creator"]
    assert livestream.title == "双十一返场 · 美妆专场"
    assert livestream.started_at == datetime.datetime(2026, 11, 1, 11, 0, tzinfo=datetime.UTC)
    assert livestream.started_at.tzinfo is not None
    assert livestream.ended_at == datetime.datetime(2026, 11, 1, 21, 0, tzinfo=SHANGHAI)
    assert (livestream.viewers, livestream.peak_online, livestream.avg_watch_seconds, livestream.new_followers) == (
        123456,
        8200,
        95,
        1520,
    )
    # The livestream's sums are its products'.
    assert livestream.gmv == Decimal("14475.00")
    assert isinstance(livestream.gmv, Decimal)
    assert (livestream.orders, livestream.units) == (119, 130)

    products = {p.sku: p for p in livestream.products.all()}
    assert products["P-2001"].organization == parties["shop2"]
    assert products["P-2001"].price == Decimal("259.50")
    assert products["P-2001"].gmv == Decimal("2595.00")
    cooperations = {c.organization.code: c for c in livestream.cooperations.select_related("organization")}
    assert set(cooperations) == {"shop-a", "shop-b"}
    assert cooperations["shop-a"].gmv == Decimal("11880.00")
    assert (cooperations["shop-a"].orders, cooperations["shop-a"].units) == (110, 120)
    assert cooperations["shop-a"].started_at == livestream.started_at

    minutes = list(livestream.minutes.all())
    assert [m.at for m in minutes] == [
        datetime.datetime(2026, 11, 1, 19, 0, tzinfo=SHANGHAI),
        datetime.datetime(2026, 11, 1, 19, 1, tzinfo=SHANGHAI),
        datetime.datetime(2026, 11, 1, 21, 0, tzinfo=SHANGHAI),
    ]
    assert (minutes[1].online, minutes[1].entries, minutes[1].gmv, minutes[1].orders) == (1500, 280, Decimal("0.10"), 1)

    assert livestream.funnel.product_clicks == 12000
    assert livestream.sources.video == 17000
    audience = livestream.audience
    assert (audience.female, audience.male) == (Decimal("0.6300"), Decimal("0.3700"))
    assert audience.age_50_plus == Decimal("0.0600")
    assert (audience.new, audience.returning) == (Decimal("0.7000"), Decimal("0.3000"))
    assert audience.provinces == {"广东": 0.18, "浙江": 0.11, "江苏": 0.09}
    assert audience.top_cities(1)[0].key == "深圳"

    live_stream = Livestream.objects.get(external_id="ls-2")
    assert live_stream.is_live
    assert (live_stream.gmv, live_stream.minutes.count(), live_stream.cooperations.count()) == (0, 0, 0)


def test_shares_within_the_tolerance_are_accepted(parties, tmp_path):
    record = make_record()
    record["audience"]["gender"] = {"female": 0.6, "male": 0.405}  # sums to 1.005
    record["audience"]["age"] = {"18-23": 0, "24-30": 1, "31-40": 0, "41-50": 0, "50+": 0}
    out, err, code = run(write(tmp_path, [dumps(record)]))
    assert (out, err, code) == ("created 1, updated 0, rejected 0\n", "", 0)
    assert Audience.objects.get().age_24_30 == Decimal("1.0000")


def test_minutes_of_a_live_stream_may_come_after_its_start(parties, tmp_path):
    record = make_record(ended_at=None)
    record["minutes"].append({"at": "2026-11-02T03:00:00+08:00", "online": 5, "entries": 0, "gmv": "0.00", "orders": 0})
    _out, err, code = run(write(tmp_path, [dumps(record)]))
    assert (err, code) == ("", 0)
    assert MinutePoint.objects.count() == 4


# --- every rule, broken once ---------------------------------------------------------------------


def _set(path, value):
    """A mutation that sets the (dotted, indexed) ``path`` of a record; ``...`` deletes it."""

    def mutate(record):
        keys = [int(part) if part.isdigit() else part for part in path.split(".")]
        target = record
        for key in keys[:-1]:
            target = target[key]
        if value is ...:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
        return record

    return mutate


def _add_product(**fields):
    def mutate(record):
        record["products"].append(
            {
                "shop": "shop-a",
                "sku": "P-9",
                "name": "x",
                "price": "1.00",
                "units": 1,
                "orders": 1,
                "gmv": "1.00",
                **fields,
            }
        )
        return record

    return mutate


def _add_minute(**fields):
    def mutate(record):
        record["minutes"].append(
            {"at": "2026-11-01T20:00:00+08:00", "online": 1, "entries": 1, "gmv": "1.00", "orders": 1, **fields}
        )
        return record

    return mutate


SOURCES_RULE = "must have exactly the keys feed, follow, search, video, paid, other"
AGE_RULE = "must have exactly the bands 18-23, 24-30, 31-40, 41-50, 50+"

RULES = [
    # (id, mutation, field, reason)
    ("unknown-key", _set("colour", "red"), "colour", "unknown key"),
    ("not-an-object", lambda r: [r], "record", "must be a JSON object"),
    ("external-id-required", _set("external_id", ...), "external_id", "required"),
    ("external-id-empty", _set("external_id", ""), "external_id", "must be a non-empty string"),
    ("external-id-not-string", _set("external_id", 7), "external_id", "must be a non-empty string"),
    ("external-id-too-long", _set("external_id", "x" * 65), "external_id", "must be at most 64 characters"),
    ("creator-required", _set("creator", ...), "creator", "required"),
    ("creator-unknown", _set("creator", "dy_nobody"), "creator", "unknown creator 'dy_nobody'"),
    ("title-required", _set("title", ...), "title", "required"),
    ("title-too-long", _set("title", "标" * 201), "title", "must be at most 200 characters"),
    ("started-at-required", _set("started_at", ...), "started_at", "required"),
    ("started-at-not-iso", _set("started_at", "1 Nov 2026"), "started_at", "not an ISO 8601 datetime"),
    ("started-at-no-offset", _set("started_at", "2026-11-01T19:00:00"), "started_at", "must include a UTC offset"),
    ("ended-at-required", _set("ended_at", ...), "ended_at", "required"),
    ("ended-at-no-offset", _set("ended_at", "2026-11-01T21:00:00"), "ended_at", "must include a UTC offset"),
    (
        "ended-before-started",
        _set("ended_at", "2026-11-01T18:59:59+08:00"),
        "ended_at",
        "must not be before started_at",
    ),
    ("totals-required", _set("totals", ...), "totals", "required"),
    ("totals-key-required", _set("totals.new_followers", ...), "totals.new_followers", "required"),
    ("totals-unknown-key", _set("totals.likes", 3), "totals.likes", "unknown key"),
    ("totals-negative", _set("totals.viewers", -1), "totals.viewers", "must be a non-negative integer"),
    ("totals-float", _set("totals.peak_online", 1.5), "totals.peak_online", "must be a non-negative integer"),
    (
        "totals-bool",
        _set("totals.avg_watch_seconds", True),
        "totals.avg_watch_seconds",
        "must be a non-negative integer",
    ),
    ("totals-string", _set("totals.new_followers", "5"), "totals.new_followers", "must be a non-negative integer"),
    ("totals-too-big", _set("totals.peak_online", 2**31), "totals.peak_online", "must be at most 2147483647"),
    ("products-not-list", _set("products", {}), "products", "must be a list"),
    ("product-not-object", _set("products.1", "P-1"), "products[1]", "must be a JSON object"),
    ("product-unknown-key", _set("products.1.colour", "red"), "products[1].colour", "unknown key"),
    ("product-key-required", _set("products.1.units", ...), "products[1].units", "required"),
    ("product-shop-unknown", _set("products.1.shop", "shop-nope"), "products[1].shop", "unknown shop 'shop-nope'"),
    (
        "product-shop-is-agency",
        _set("products.0.shop", "agency-a"),
        "products[0].shop",
        "'agency-a' is not a shop (it is an agency)",
    ),
    ("product-price-not-decimal", _set("products.1.price", "abc"), "products[1].price", "not a decimal"),
    ("product-price-number", _set("products.0.price", 99.0), "products[0].price", "must be a decimal string"),
    ("product-price-places", _set("products.0.price", "1.234"), "products[0].price", "at most two decimal places"),
    ("product-gmv-negative", _set("products.1.gmv", "-1.00"), "products[1].gmv", "must be ≥ 0"),
    ("product-gmv-not-decimal", _set("products.1.gmv", "1e3"), "products[1].gmv", "not a decimal"),
    (
        "product-gmv-too-large",
        _set("products.0.gmv", "1000000000000.00"),
        "products[0].gmv",
        "too large (at most 12 digits before the point)",
    ),
    ("product-units-negative", _set("products.0.units", -1), "products[0].units", "must be a non-negative integer"),
    ("product-orders-string", _set("products.1.orders", "9"), "products[1].orders", "must be a non-negative integer"),
    ("product-sku-empty", _set("products.0.sku", " "), "products[0].sku", "must be a non-empty string"),
    (
        "product-duplicate-sku",
        _add_product(sku="P-1001"),
        "products[2].sku",
        "duplicate of products[0] (same shop and sku)",
    ),
    ("partners-not-list", _set("partners", "agency-a"), "partners", "must be a list"),
    ("partners-null", _set("partners", None), "partners", "must be a list"),
    ("partner-not-string", _set("partners", ["agency-a", 5]), "partners[1]", "must be an agency code (a string)"),
    ("partner-empty", _set("partners", [""]), "partners[0]", "must be an agency code (a string)"),
    ("partner-unknown", _set("partners", ["agency-nope"]), "partners[0]", "unknown agency 'agency-nope'"),
    ("partner-is-shop", _set("partners", ["shop-a"]), "partners[0]", "'shop-a' is not an agency (it is a shop)"),
    ("partner-duplicate", _set("partners", ["agency-a", "agency-a"]), "partners[1]", "duplicate of partners[0]"),
    ("minutes-not-list", _set("minutes", None), "minutes", "must be a list"),
    ("minute-not-object", _set("minutes.0", 5), "minutes[0]", "must be a JSON object"),
    ("minute-unknown-key", _set("minutes.2.likes", 5), "minutes[2].likes", "unknown key"),
    ("minute-at-before-start", _set("minutes.2.at", "2026-11-01T18:59:00+08:00"), "minutes[2].at", "before started_at"),
    ("minute-at-after-end", _set("minutes.1.at", "2026-11-01T21:00:01+08:00"), "minutes[1].at", "after ended_at"),
    ("minute-at-no-offset", _set("minutes.1.at", "2026-11-01T19:01:00"), "minutes[1].at", "must include a UTC offset"),
    # The same instant written with another offset is the same minute.
    ("minute-at-duplicate", _add_minute(at="2026-11-01T11:01:00+00:00"), "minutes[3].at", "duplicate of minutes[1]"),
    ("minute-online-negative", _set("minutes.0.online", -5), "minutes[0].online", "must be a non-negative integer"),
    ("minute-gmv-places", _set("minutes.0.gmv", "1.001"), "minutes[0].gmv", "at most two decimal places"),
    ("funnel-required", _set("funnel", ...), "funnel", "required"),
    ("funnel-key-required", _set("funnel.product_clicks", ...), "funnel.product_clicks", "required"),
    ("funnel-negative", _set("funnel.orders", -2), "funnel.orders", "must be a non-negative integer"),
    ("sources-unknown-key", _set("sources.tv", 3), "sources", SOURCES_RULE),
    ("sources-missing-key", _set("sources.paid", ...), "sources", SOURCES_RULE),
    ("sources-negative", _set("sources.paid", -1), "sources.paid", "must be a non-negative integer"),
    ("audience-required", _set("audience", ...), "audience", "required"),
    ("audience-unknown-key", _set("audience.income", {}), "audience.income", "unknown key"),
    (
        "audience-gender-keys",
        _set("audience.gender.other", 0),
        "audience.gender",
        "must have exactly the keys female, male",
    ),
    ("audience-gender-sum", _set("audience.gender.male", 0.3), "audience.gender", "shares must sum to 1 (±0.01)"),
    (
        "audience-gender-share",
        _set("audience.gender.male", "0.37"),
        "audience.gender.male",
        "must be a share in [0, 1]",
    ),
    ("audience-age-bands", _set("audience.age.50+", ...), "audience.age", AGE_RULE),
    ("audience-age-share", _set("audience.age.50+", 1.5), "audience.age.50+", "must be a share in [0, 1]"),
    ("audience-age-sum", _set("audience.age.18-23", 0.2), "audience.age", "shares must sum to 1 (±0.01)"),
    (
        "audience-visitors-keys",
        _set("audience.new_vs_returning", {"new": 0.7, "old": 0.3}),
        "audience.new_vs_returning",
        "must have exactly the keys new, returning",
    ),
    (
        "audience-visitors-sum",
        _set("audience.new_vs_returning.new", 0.5),
        "audience.new_vs_returning",
        "shares must sum to 1 (±0.01)",
    ),
    (
        "audience-provinces-sum",
        _set("audience.provinces.广东", 0.9),
        "audience.provinces",
        "shares must sum to at most 1",
    ),
    ("audience-cities-share", _set("audience.cities.深圳", -0.1), "audience.cities.深圳", "must be a share in [0, 1]"),
    ("audience-cities-not-object", _set("audience.cities", []), "audience.cities", "must be a JSON object"),
]


@pytest.mark.parametrize(("mutate", "field", "reason"), [rule[1:] for rule in RULES], ids=[rule[0] for rule in RULES])
def test_a_broken_rule_rejects_the_line_and_writes_none_of_it(parties, tmp_path, mutate, field, reason):
    bad = mutate(make_record("ls-bad"))
    path = write(tmp_path, [dumps(make_record("ls-1")), dumps(bad), dumps(make_record("ls-3"))])

    out, err, code = run(path)

    assert error_lines(err) == [f"line 2: {field}: {reason}"]
    assert out == "created 2, updated 0, rejected 1\n"
    assert code == 1
    assert set(Livestream.objects.values_list("external_id", flat=True)) == {"ls-1", "ls-3"}
    # Only the two good lines' children exist.
    assert ProductSale.objects.count() == 4
    assert MinutePoint.objects.count() == 6
    assert Cooperation.objects.count() == 4
    assert (Funnel.objects.count(), TrafficSources.objects.count(), Audience.objects.count()) == (2, 2, 2)


def test_invalid_json_is_reported_and_skipped(parties, tmp_path):
    path = write(tmp_path, [dumps(make_record("ls-1")), '{"external_id": "ls-2",', "[1, 2", dumps(make_record("ls-4"))])
    out, err, code = run(path)
    errors = error_lines(err)
    assert len(errors) == 2
    assert errors[0].startswith("line 2: record: invalid JSON (")
    assert errors[1].startswith("line 3: record: invalid JSON (")
    assert (out, code) == ("created 2, updated 0, rejected 2\n", 1)


def test_invalid_utf8_is_reported(parties, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"title": "caf\xe9"}\n')
    _out, err, code = run(path)
    assert error_lines(err) == ["line 1: record: not valid UTF-8"]
    assert code == 1


def test_blank_lines_are_skipped_and_not_counted(parties, tmp_path):
    bad = make_record("ls-bad", creator="dy_nobody")
    path = write(
        tmp_path, ["", dumps(make_record("ls-1")), "   ", dumps(bad), "\t", "", dumps(make_record("ls-3")), ""]
    )
    out, err, code = run(path)
    # Line numbers are the file's own; blank lines count neither as created nor as rejected.
    assert error_lines(err) == ["line 4: creator: unknown creator 'dy_nobody'"]
    assert (out, code) == ("created 2, updated 0, rejected 1\n", 1)


def test_an_empty_file_imports_nothing_and_succeeds(tmp_path):
    assert run(write(tmp_path, ["", "  "])) == ("created 0, updated 0, rejected 0\n", "", 0)


# --- upsert ---------------------------------------------------------------------------------------


def test_upsert_updates_in_place_and_replaces_every_child(parties, tmp_path):
    run(write(tmp_path, [dumps(make_record("ls-1"))], "first.jsonl"))
    first = Livestream.objects.get()
    old_products = set(ProductSale.objects.values_list("pk", flat=True))
    old_minutes = set(MinutePoint.objects.values_list("pk", flat=True))

    second = make_record(
        "ls-1",
        creator="dy_b",
        title="改过的标题",
        started_at="2026-11-01T19:30:00+08:00",
        products=[
            {
                "shop": "shop-b",
                "sku": "P-3001",
                "name": "空气炸锅",
                "price": "299.00",
                "units": 2,
                "orders": 2,
                "gmv": "598.00",
            },
        ],
        minutes=[{"at": "2026-11-01T19:30:00+08:00", "online": 10, "entries": 10, "gmv": "598.00", "orders": 2}],
    )
    second["funnel"]["orders"] = 2
    second["sources"]["other"] = 1
    second["audience"]["gender"] = {"female": 0.5, "male": 0.5}
    second["audience"]["cities"] = {}
    out, err, code = run(write(tmp_path, [dumps(second)], "second.jsonl"))

    assert (out, err, code) == ("created 0, updated 1, rejected 0\n", "", 0)
    livestream = Livestream.objects.get()
    assert livestream.pk == first.pk
    assert livestream.created_at == first.created_at
    assert (livestream.creator, livestream.title) == (parties["creator2"], "改过的标题")
    assert (livestream.gmv, livestream.orders, livestream.units) == (Decimal("598.00"), 2, 2)
    assert list(livestream.products.values_list("sku", flat=True)) == ["P-3001"]
    assert not old_products & set(ProductSale.objects.values_list("pk", flat=True))
    assert not old_minutes & set(MinutePoint.objects.values_list("pk", flat=True))
    assert MinutePoint.objects.count() == 1
    cooperation = Cooperation.objects.get()
    assert (cooperation.organization, cooperation.gmv) == (parties["shop2"], Decimal("598.00"))
    assert cooperation.started_at == datetime.datetime(2026, 11, 1, 19, 30, tzinfo=SHANGHAI)
    assert (Funnel.objects.get().orders, TrafficSources.objects.get().other) == (2, 1)
    assert Audience.objects.get().female == Decimal("0.5000")
    assert Audience.objects.get().cities == {}
    assert (Funnel.objects.count(), TrafficSources.objects.count(), Audience.objects.count()) == (1, 1, 1)


def test_a_rejected_update_leaves_the_previous_import_untouched(parties, tmp_path):
    run(write(tmp_path, [dumps(make_record("ls-1"))], "first.jsonl"))
    bad = make_record("ls-1", title="新标题", products=[])
    bad["minutes"][0]["online"] = -1
    _out, err, code = run(write(tmp_path, [dumps(bad)], "second.jsonl"))
    assert (error_lines(err), code) == (["line 1: minutes[0].online: must be a non-negative integer"], 1)
    livestream = Livestream.objects.get()
    assert livestream.title == "双十一返场 · 美妆专场"
    assert (livestream.products.count(), livestream.minutes.count(), livestream.cooperations.count()) == (2, 3, 2)


def fail_minutes_with(monkeypatch, online=None):
    """Make the writer of minute points raise IntegrityError("boom"): always, or when a written
    point has ``online`` viewers. Returns the list of the writer's calls (their row counts)."""
    calls = []

    def insert_rows(model, fields, rows):
        if model is MinutePoint:
            calls.append(len(rows))
            if online is None or any(row[2] == online for row in rows):
                raise IntegrityError("boom")
        return real(model, fields, rows)

    real = writes.insert_rows
    monkeypatch.setattr(writes, "insert_rows", insert_rows)
    return calls


def test_a_database_error_rolls_the_line_back_and_rejects_it(parties, tmp_path, monkeypatch):
    fail_minutes_with(monkeypatch)
    out, err, code = run(write(tmp_path, [dumps(make_record("ls-1"))]))
    assert error_lines(err) == ["line 1: record: database error: boom"]
    assert (out, code) == ("created 0, updated 0, rejected 1\n", 1)
    # Products and cooperations were written before the failure; none of it stayed.
    assert (Livestream.objects.count(), ProductSale.objects.count(), Cooperation.objects.count()) == (0, 0, 0)


# --- chunks: lines written together --------------------------------------------------------------


def test_a_database_error_in_a_chunk_rejects_only_the_line_that_caused_it(parties, tmp_path, monkeypatch):
    run(write(tmp_path, [dumps(make_record("ls-3", title="旧标题"))], "first.jsonl"))
    calls = fail_minutes_with(monkeypatch, online=666)
    bad = make_record("ls-2")
    bad["minutes"][1]["online"] = 666  # a good line the (patched) database refuses
    path = write(tmp_path, [dumps(make_record("ls-1")), dumps(bad), dumps(make_record("ls-3", title="新标题"))])

    out, err, code = run(path)

    assert error_lines(err) == ["line 2: record: database error: boom"]
    assert (out, code) == ("created 1, updated 1, rejected 1\n", 1)
    # The chunk was tried as a whole (9 points), rolled back, then written line by line.
    assert calls == [9, 3, 3, 3]
    assert set(Livestream.objects.values_list("external_id", "title")) == {
        ("ls-1", "双十一返场 · 美妆专场"),
        ("ls-3", "新标题"),
    }
    # Nothing of ls-2, and the others complete: none of the rolled-back chunk stayed.
    assert (ProductSale.objects.count(), Cooperation.objects.count(), MinutePoint.objects.count()) == (4, 4, 6)
    assert (Funnel.objects.count(), TrafficSources.objects.count(), Audience.objects.count()) == (2, 2, 2)


@pytest.mark.django_db(transaction=True)
def test_the_fallback_works_in_autocommit_as_the_command_runs(parties, tmp_path, monkeypatch):
    """Outside a test transaction the chunk and each retried line are real transactions."""
    calls = fail_minutes_with(monkeypatch, online=666)
    bad = make_record("ls-2")
    bad["minutes"][0]["online"] = 666
    path = write(tmp_path, [dumps(make_record("ls-1")), dumps(bad), dumps(make_record("ls-3"))])

    out, err, code = run(path)

    assert (error_lines(err), out, code) == (
        ["line 2: record: database error: boom"],
        "created 2, updated 0, rejected 1\n",
        1,
    )
    assert calls == [9, 3, 3, 3]
    assert set(Livestream.objects.values_list("external_id", flat=True)) == {"ls-1", "ls-3"}
    assert (MinutePoint.objects.count(), ProductSale.objects.count(), Audience.objects.count()) == (6, 4, 2)


def test_the_same_external_id_twice_in_a_chunk_is_imported_in_line_order(parties, tmp_path):
    later = make_record("ls-1", title="后一行", products=[], minutes=make_record()["minutes"][:1])
    path = write(tmp_path, [dumps(make_record("ls-1")), dumps(make_record("ls-2")), dumps(later)])

    out, err, code = run(path)

    # The later line wins, and counts as an update of what the earlier one created.
    assert (out, err, code) == ("created 2, updated 1, rejected 0\n", "", 0)
    livestream = Livestream.objects.get(external_id="ls-1")
    assert livestream.title == "后一行"
    assert (livestream.gmv, livestream.orders, livestream.units) == (Decimal("0.00"), 0, 0)
    assert (livestream.products.count(), livestream.cooperations.count(), livestream.minutes.count()) == (0, 0, 1)
    assert (Funnel.objects.count(), TrafficSources.objects.count(), Audience.objects.count()) == (2, 2, 2)


def test_an_upsert_keeps_the_livestream_and_the_access_requests_pointing_at_it(parties, tmp_path):
    run(write(tmp_path, [dumps(make_record("ls-1")), dumps(make_record("ls-2"))], "first.jsonl"))
    first = Livestream.objects.get(external_id="ls-1")
    access_request = services.request_livestream_access(livestream=first, actor=parties["shop"].main_account)
    changed = make_record("ls-1", title="改过的标题", started_at="2026-11-01T18:59:00+08:00")
    changed["products"] = changed["products"][1:]
    path = write(tmp_path, [dumps(make_record("ls-0")), dumps(changed), dumps(make_record("ls-2"))], "second.jsonl")

    out, err, code = run(path)

    assert (out, err, code) == ("created 1, updated 2, rejected 0\n", "", 0)
    livestream = Livestream.objects.get(external_id="ls-1")
    assert (livestream.pk, livestream.created_at) == (first.pk, first.created_at)
    assert livestream.updated_at > first.updated_at
    assert (livestream.title, livestream.gmv) == ("改过的标题", Decimal("2595.00"))
    access_request.refresh_from_db()
    assert access_request.livestream_id == first.pk
    cooperation = livestream.cooperations.get()
    assert (cooperation.organization, cooperation.gmv) == (parties["shop2"], Decimal("2595.00"))
    assert cooperation.started_at == livestream.started_at
    assert Livestream.objects.count() == 3


def _mixed_lines():
    """Good, bad, blank, repeated and database-refused lines, for the chunking comparison."""
    refused = make_record("ls-refused")
    refused["minutes"][0]["online"] = 666
    return [
        dumps(make_record("ls-1")),
        "",
        dumps(make_record("ls-bad", creator="dy_nobody")),
        dumps(make_record("ls-2", creator="dy_b")),
        "{oops",
        dumps(make_record("ls-1", title="第二次", minutes=[])),
        dumps(refused),
        "   ",
        dumps(make_record("ls-3", ended_at=None, products=[])),
        dumps(make_record("ls-2", title="又一次")),
        dumps(make_record("ls-1", title="第三次")),
        dumps(make_record("ls-4")),
    ]


def _import_state():
    return sorted(
        (
            livestream.external_id,
            livestream.title,
            livestream.gmv,
            livestream.minutes.count(),
            livestream.products.count(),
            livestream.cooperations.count(),
        )
        for livestream in Livestream.objects.all()
    )


def test_chunking_changes_nothing_but_speed(parties, monkeypatch):
    """The same lines in chunks of every size give the same messages, counts, progress and data as
    one line at a time."""
    fail_minutes_with(monkeypatch, online=666)
    outcomes = []
    for chunk_lines, chunk_minutes in [(1, 10**6), (2, 10**6), (3, 10**6), (200, 10**6), (200, 4)]:
        Livestream.objects.all().delete()
        progress = []
        result = import_lines(
            _mixed_lines(),
            on_progress=lambda r, progress=progress: progress.append((r.created, r.updated, r.rejected)),
            progress_every=2,
            chunk_lines=chunk_lines,
            chunk_minutes=chunk_minutes,
        )
        outcomes.append((result.summary(), result.minutes, result.errors, progress, _import_state()))
    assert outcomes[0][0] == "created 4, updated 3, rejected 3"
    assert outcomes[0][2][0] == "line 3: creator: unknown creator 'dy_nobody'"
    assert outcomes[0][2][1].startswith("line 5: record: invalid JSON (")
    assert outcomes[0][2][2] == "line 7: record: database error: boom"
    assert all(outcome == outcomes[0] for outcome in outcomes[1:])


# --- input sources and exit codes -------------------------------------------------------------------


def test_gz_files_are_read_compressed(parties, tmp_path):
    path = tmp_path / "data.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(dumps(make_record("ls-1")) + "\n\n" + dumps(make_record("ls-2")) + "\n")
    out, err, code = run(path)
    assert (out, err, code) == ("created 2, updated 0, rejected 0\n", "", 0)
    assert MinutePoint.objects.count() == 6


def test_dash_reads_standard_input(parties, monkeypatch):
    data = (dumps(make_record("ls-1")) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert run("-") == ("created 1, updated 0, rejected 0\n", "", 0)
    assert Livestream.objects.get().external_id == "ls-1"


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_livestreams", str(tmp_path / "nope.jsonl"))


def test_exit_status_from_the_shell_is_1_on_rejection_and_0_otherwise():
    """The real process exit status. The input never reaches the database (a blank line and a line
    that is not JSON, or nothing at all), so the child process needs no test database."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "import_livestreams", "-"]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}

    rejected = subprocess.run(command, input=b"\n{oops\n", capture_output=True, env=env, timeout=60, check=False)
    assert rejected.returncode == 1
    assert rejected.stdout.decode() == "created 0, updated 0, rejected 1\n"
    assert "line 2: record: invalid JSON (" in rejected.stderr.decode()

    empty = subprocess.run(command, input=b"\n", capture_output=True, env=env, timeout=60, check=False)
    assert (empty.returncode, empty.stdout.decode(), empty.stderr.decode()) == (
        0,
        "created 0, updated 0, rejected 0\n",
        "",
    )


# --- speed: cached look-ups, bulk writes, progress ------------------------------------------------


def test_creators_shops_and_partners_are_looked_up_once_per_import(parties, tmp_path):
    records = []
    for n in range(5):
        record = make_record(f"ls-{n}", partners=["agency-a"])
        record["products"] += [
            {"shop": shop, "sku": f"S-{i}", "name": "x", "price": "1.00", "units": 1, "orders": 1, "gmv": "1.00"}
            for i, shop in enumerate(["shop-a", "shop-b"] * 10)
        ]
        records.append(dumps(record))
    with CaptureQueriesContext(connection) as queries:
        run(write(tmp_path, records))
    assert Livestream.objects.count() == 5
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "portal_creator"' in s for s in sql) == 1
    assert sum('FROM "portal_organization"' in s for s in sql) == 1
    # The five lines are one chunk: products and minute points go in with one statement each for
    # all of them (an INSERT on SQLite; on PostgreSQL a COPY, which the capture does not list).
    assert sum(s.startswith('INSERT INTO "livestreams_productsale"') for s in sql) <= 1
    assert sum(s.startswith('INSERT INTO "livestreams_minutepoint"') for s in sql) <= 1
    assert sum(s.startswith('INSERT INTO "livestreams_livestream"') for s in sql) == 1


def test_progress_is_reported_every_n_lines(parties):
    lines = [dumps(make_record(f"ls-{n}")) for n in range(5)]
    seen = []
    result = import_lines(lines, on_progress=lambda r: seen.append(r.lines), progress_every=2)
    assert seen == [2, 4]
    assert (result.created, result.minutes) == (5, 15)


# --- the sample file ------------------------------------------------------------------------------


def test_the_generated_sample_imports_cleanly_and_is_deterministic(tmp_path):
    from livestreams.management.commands.make_sample_livestreams import CREATORS, SHOPS

    for douyin_id in CREATORS:
        CreatorFactory(douyin_id=douyin_id)
    for code in SHOPS:
        ShopFactory(code=code)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        call_command("make_sample_livestreams", "--count", "12", "--output", str(path), stderr=io.StringIO())
    assert first.read_bytes() == second.read_bytes()

    out, err, code = run(first)
    assert (out, err, code) == ("created 12, updated 0, rejected 0\n", "", 0)
    for livestream in Livestream.objects.all():
        assert 60 <= livestream.minutes.count() <= 180
        assert sum(m.gmv for m in livestream.minutes.all()) == livestream.gmv
        assert livestream.funnel.orders == livestream.orders


def test_the_committed_sample_is_what_the_generator_writes(tmp_path):
    path = tmp_path / "sample.jsonl"
    call_command("make_sample_livestreams", "--output", str(path), stderr=io.StringIO())
    committed = Path(settings.BASE_DIR) / "docs" / "sample-livestreams.jsonl"
    assert path.read_bytes() == committed.read_bytes()
    assert committed.stat().st_size < 5_000_000


def test_make_record_is_accepted_as_is(parties):
    # Guards the fixture the rule cases mutate: unmodified it must be good.
    result = import_lines([dumps(copy.deepcopy(make_record()))])
    assert (result.created, result.rejected, result.errors) == (1, 0, [])


def test_a_reimport_that_moves_a_livestream_to_another_creator_ends_its_requests(parties, tmp_path):
    run(write(tmp_path, [dumps(make_record("ls-1")), dumps(make_record("ls-2"))], "first.jsonl"))
    moved, stays = Livestream.objects.get(external_id="ls-1"), Livestream.objects.get(external_id="ls-2")
    requests = [
        services.request_livestream_access(livestream=stream, actor=parties["shop"].main_account)
        for stream in (moved, stays)
    ]
    assert {r.creator_id for r in requests} == {parties["creator"].pk}

    out, err, code = run(write(tmp_path, [dumps(make_record("ls-1", creator="dy_b"))], "second.jsonl"))

    assert (out, err, code) == ("created 0, updated 1, rejected 0\n", "", 0)
    for access_request in requests:
        access_request.refresh_from_db()
    # The moved livestream's request ends and stays with the creator it was made to (one history
    # event, no actor: an import); the other livestream's stays pending; the new creator sees none.
    assert (requests[0].status, requests[0].creator_id) == ("ended", parties["creator"].pk)
    assert list(requests[0].events.order_by("pk").values_list("operation", "actor")) == [
        ("request", parties["shop"].main_account.pk),
        ("end", None),
    ]
    assert (requests[1].status, requests[1].creator_id) == ("pending", parties["creator"].pk)
    assert not LivestreamAccessRequest.objects.for_creator(parties["creator2"]).exists()
