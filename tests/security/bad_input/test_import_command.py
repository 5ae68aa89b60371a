"""The import command fuzzed with whole files of broken lines (SPEC §7): each bad record is reported
with its line number and reason and skipped, good ones are written, none is half-written."""

from __future__ import annotations

import datetime
import io
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import assume, given
from hypothesis import strategies as st

from livestreams.factories import LivestreamFactory
from livestreams.models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory
from portal.models import Creator, Organization

from .helpers import fuzz, table_counts

pytestmark = pytest.mark.django_db

IMPORT_MODELS = (Livestream, ProductSale, Cooperation, MinutePoint, Funnel, TrafficSources, Audience)


def import_counts() -> dict[str, int]:
    return table_counts(IMPORT_MODELS)


@dataclass
class ImportWorld:
    creator: Creator
    shop: Organization
    agency: Organization
    existing: Livestream


@pytest.fixture
def import_world(db) -> ImportWorld:
    """The creator and shops the records name (the test's django_db marker decides transactional or not)."""
    creator = CreatorFactory(douyin_id="dy_fuzz")
    shop, agency = ShopFactory(code="shop-fuzz"), AgencyFactory(code="agency-fuzz")
    existing = LivestreamFactory(creator=creator, cooperating=[shop], external_id="existing-1", minutes=5)
    return ImportWorld(creator, shop, agency, existing)


def valid_record(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "creator": "dy_fuzz",
        "title": "双十一返场 · 美妆专场",
        "started_at": "2026-11-01T19:00:00+08:00",
        "ended_at": "2026-11-01T21:00:00+08:00",
        "totals": {"viewers": 12345, "peak_online": 820, "avg_watch_seconds": 95, "new_followers": 152},
        "products": [
            {
                "shop": "shop-fuzz",
                "sku": "P-1",
                "name": "保湿精华",
                "price": "99.00",
                "units": 12,
                "orders": 11,
                "gmv": "1188.00",
            },
            {
                "shop": "shop-fuzz",
                "sku": "P-2",
                "name": "面霜",
                "price": "59.90",
                "units": 3,
                "orders": 3,
                "gmv": "179.70",
            },
        ],
        "minutes": [
            {"at": "2026-11-01T19:00:00+08:00", "online": 120, "entries": 30, "gmv": "120.00", "orders": 1},
            {"at": "2026-11-01T19:01:00+08:00", "online": 150, "entries": 40, "gmv": "0.00", "orders": 0},
            {"at": "2026-11-01T20:59:00+08:00", "online": 90, "entries": 10, "gmv": "1247.70", "orders": 13},
        ],
        "funnel": {
            "impressions": 100000,
            "entries": 12000,
            "product_impressions": 8000,
            "product_clicks": 1200,
            "orders": 14,
        },
        "sources": {"feed": 6200, "follow": 2100, "search": 700, "video": 1700, "paid": 900, "other": 200},
        "audience": {
            "gender": {"female": 0.63, "male": 0.37},
            "age": {"18-23": 0.12, "24-30": 0.38, "31-40": 0.31, "41-50": 0.13, "50+": 0.06},
            "provinces": {"广东": 0.18, "浙江": 0.11},
            "cities": {"深圳": 0.07},
            "new_vs_returning": {"new": 0.7, "returning": 0.3},
        },
    }


# Object keys of any text (control characters are escaped in the messages).
KEYS = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
NOT_A_STRING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.lists(JSON_SCALARS, max_size=2)
)


def bad_count(maximum: int) -> st.SearchStrategy:
    return st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=maximum + 1),
        st.floats(allow_nan=False),  # 1.0 is not a count either
        st.booleans(),
        st.none(),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
    )


BAD_MONEY = st.one_of(
    NOT_A_STRING,
    st.sampled_from(
        ["", " ", "1.234", "-1.00", "1e3", "NaN", "Infinity", "1,000.00", "¥10", "1.", ".5", "0x10", "1" * 20]
    ),
    st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("-0.01"), places=2).map(str),
)
BAD_TEXT = st.one_of(
    NOT_A_STRING, st.sampled_from(["", " ", "\t"]), st.text(min_size=1, max_size=3).map(lambda s: "x" + s * 300)
)
BAD_DATETIME = st.one_of(
    NOT_A_STRING,
    st.sampled_from(
        [
            "",
            "2026-11-01",
            "2026-11-01T19:00:00",  # naive
            "2026-11-01 19:00",
            "2026-02-30T19:00:00+08:00",
            "2026-11-01T25:00:00+08:00",
            "2026-11-01T19:00:00+25:00",
            "yesterday",
            "1730458800",
        ]
    ),
    st.datetimes().map(datetime.datetime.isoformat),  # naive
    st.datetimes(timezones=st.timezones()).map(datetime.datetime.isoformat),  # any year, any offset
)
BAD_SHARE = st.one_of(
    st.floats(min_value=1.0001, allow_infinity=True),
    st.floats(max_value=-0.0001, allow_infinity=True),
    st.just(float("nan")),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.integers(min_value=2),
)
BAD_CODE = st.one_of(NOT_A_STRING, st.sampled_from(["", "unknown-shop", "agency-fuzz", "SHOP-FUZZ", " shop-fuzz"]))
BAD_CREATOR = st.one_of(NOT_A_STRING, st.sampled_from(["", "dy_unknown", "DY_FUZZ", " dy_fuzz"]))

# Every leaf of a record, with values that break its rule whatever the rest of the record holds.
LEAVES: dict[tuple, st.SearchStrategy] = {
    ("external_id",): BAD_TEXT,
    ("creator",): BAD_CREATOR,
    ("title",): BAD_TEXT,
    ("started_at",): BAD_DATETIME,
    ("ended_at",): st.one_of(BAD_DATETIME.filter(lambda v: v is not None), st.just("2026-11-01T18:59:59+08:00")),
    **{
        ("totals", key): bad_count(2**31 - 1 if key != "viewers" else 2**63 - 1)
        for key in ("viewers", "peak_online", "avg_watch_seconds", "new_followers")
    },
    ("products",): st.one_of(
        st.none(), st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), JSON_SCALARS, min_size=1)
    ),
    ("products", 0, "shop"): BAD_CODE,
    ("products", 1, "sku"): st.one_of(BAD_TEXT, st.just("P-1")),  # "P-1": a duplicate of products[0]
    ("products", 0, "name"): BAD_TEXT,
    ("products", 1, "price"): BAD_MONEY,
    ("products", 0, "gmv"): st.one_of(BAD_MONEY, st.just("1" * 13 + ".00")),
    ("products", 1, "units"): bad_count(2**31 - 1),
    ("products", 0, "orders"): bad_count(2**31 - 1),
    ("minutes",): st.one_of(
        st.none(), st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), JSON_SCALARS, min_size=1)
    ),
    ("minutes", 1, "at"): st.one_of(
        BAD_DATETIME,
        st.sampled_from(["2026-11-01T18:59:00+08:00", "2026-11-01T21:00:01+08:00", "2026-11-01T19:00:00+08:00"]),
    ),
    ("minutes", 2, "online"): bad_count(2**31 - 1),
    ("minutes", 0, "entries"): bad_count(2**31 - 1),
    ("minutes", 2, "gmv"): BAD_MONEY,
    ("minutes", 0, "orders"): bad_count(2**31 - 1),
    **{
        ("funnel", key): bad_count(2**63 - 1)
        for key in ("impressions", "entries", "product_impressions", "product_clicks", "orders")
    },
    **{("sources", key): bad_count(2**63 - 1) for key in ("feed", "follow", "search", "video", "paid", "other")},
    ("audience", "gender", "female"): st.one_of(BAD_SHARE, st.just(0.9)),  # 0.9 + 0.37: does not sum to 1
    ("audience", "age", "50+"): st.one_of(BAD_SHARE, st.just(0.5)),
    ("audience", "provinces"): st.one_of(
        NOT_A_STRING.filter(lambda v: not isinstance(v, dict)),
        st.dictionaries(KEYS.filter(bool), BAD_SHARE, min_size=1),
        st.just({"广东": 0.7, "浙江": 0.6}),
        st.just({" ": 0.1}),
    ),
    ("audience", "cities"): st.one_of(st.just({"深圳": 1.5}), st.just([])),
    ("audience", "new_vs_returning", "new"): BAD_SHARE,
}
# Objects whose keys are fixed: a missing key or an unknown one breaks the record.
OBJECTS = [(), ("totals",), ("products", 0), ("minutes", 1), ("funnel",), ("sources",), ("audience",),
           ("audience", "gender"), ("audience", "age"), ("audience", "new_vs_returning")]  # fmt: skip


def _at(record, path):
    for key in path:
        record = record[key]
    return record


@st.composite
def broken_records(draw) -> dict:
    record = valid_record(draw(st.sampled_from([f"fuzz-{uuid.uuid4()}", "existing-1"])))
    how = draw(st.sampled_from(["leaf", "leaf", "leaf", "drop", "extra"]))
    if how == "leaf":
        path = draw(st.sampled_from(sorted(LEAVES, key=str)))
        _at(record, path[:-1])[path[-1]] = draw(LEAVES[path])
    else:
        path = draw(st.sampled_from(OBJECTS))
        target = _at(record, path)
        if how == "drop":
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            key = draw(KEYS.filter(lambda k: k not in target))
            target[key] = draw(JSON_SCALARS)
    return record


def _dump(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


BROKEN_LINES = st.one_of(
    broken_records().map(_dump),
    st.fixed_dictionaries(dict.fromkeys(valid_record("x"), JSON_VALUES)).map(_dump),  # every key, random values
    JSON_VALUES.map(_dump),  # any JSON at all: not an object, or an object without the keys
    st.text(min_size=1, max_size=60).map(lambda s: s.encode("utf-8")),  # not JSON
    st.binary(min_size=1, max_size=60),  # not even UTF-8
    st.sampled_from([b"{", b"[]", b"null", b'"\\u0000"', b"\xef\xbb\xbf{}", b"{}" * 2, b"NaN", b"1e999999"]),
).filter(lambda line: b"\n" not in line and line.strip())


def run_import(tmp_path, lines: list[bytes]):
    path = tmp_path / f"{uuid.uuid4()}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, err = io.StringIO(), io.StringIO()
    returncode = 0
    try:
        call_command("import_livestreams", str(path), stdout=out, stderr=err)
    except CommandError as error:
        returncode = error.returncode
    return returncode, out.getvalue(), err.getvalue()


def snapshot(livestream: Livestream) -> tuple:
    fresh = Livestream.objects.get(pk=livestream.pk)
    return (
        fresh.title,
        fresh.started_at,
        fresh.ended_at,
        fresh.gmv,
        fresh.viewers,
        fresh.updated_at,
        list(fresh.minutes.order_by("at").values_list("at", "online")),
        list(fresh.products.order_by("pk").values_list("sku", "gmv")),
    )


@pytest.mark.django_db(transaction=True)  # the command runs in autocommit, as in production
@fuzz(40)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from(["broken", "broken", "broken", "blank"]), BROKEN_LINES), min_size=1, max_size=6
    ),
    good_at=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_import_rejects_generated_broken_lines(import_world, tmp_path, lines, good_at):
    entries = [(kind, b"  " if kind == "blank" else line) for kind, line in lines]
    good_id = f"good-{uuid.uuid4()}"
    if good_at is not None:
        entries.insert(min(good_at, len(entries)), ("good", _dump(valid_record(good_id))))
    broken = [number for number, (kind, _line) in enumerate(entries, start=1) if kind == "broken"]
    assume(broken)
    before, existing = import_counts(), snapshot(import_world.existing)

    returncode, out, err = run_import(tmp_path, [line for _kind, line in entries])

    messages = [line for line in err.split("\n") if line.strip()]  # a terminal's lines
    numbers = [re.match(r"line (\d+): ", m) for m in messages]
    assert [int(n.group(1)) if n else m for n, m in zip(numbers, messages, strict=True)] == broken, err
    for message in messages:
        assert re.fullmatch(r"line \d+: .*: .+", message), message
        message.encode("utf-8")  # printable on a UTF-8 terminal
    good = int(good_at is not None)
    assert out.strip() == f"created {good}, updated 0, rejected {len(broken)}"
    assert returncode == 1
    after = import_counts()
    assert after["Livestream"] - before["Livestream"] == good
    if not good:
        assert after == before
    else:
        assert Livestream.objects.filter(external_id=good_id).exists()
    assert snapshot(import_world.existing) == existing, "a broken line touched the existing livestream"


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": "0001-01-01T00:00:00+14:00", "ended_at": None, "minutes": []},
        {"ended_at": "9999-12-31T23:00:00-05:00"},
    ],
)
def test_import_rejects_datetimes_outside_the_storable_range(import_world, tmp_path, change):
    record = {**valid_record(f"edge-{uuid.uuid4()}"), **change}
    before = import_counts()
    returncode, out, err = run_import(tmp_path, [_dump(record)])
    assert (returncode, out.strip()) == (1, "created 0, updated 0, rejected 1")
    assert re.fullmatch(r"line 1: (started_at|ended_at): .+", err.strip())
    assert import_counts() == before


@pytest.mark.parametrize("path", [(), ("totals",), ("audience", "provinces")])
def test_import_error_messages_stay_on_one_line(import_world, tmp_path, path):
    record = valid_record(f"k-{uuid.uuid4()}")
    target = record
    for key in path:
        target = target[key]
    target["x\nline 2: title: forged"] = 2.0  # an unknown key, or (in provinces) a share above 1
    returncode, out, err = run_import(tmp_path, [_dump(record), _dump(valid_record(f"ok-{uuid.uuid4()}"))])
    assert (returncode, out.strip()) == (1, "created 1, updated 0, rejected 1")
    assert len(err.strip().split("\n")) == 1, err
    assert err.startswith("line 1: ")


@pytest.mark.parametrize("field", ["title", "external_id"])
def test_import_rejects_lone_surrogates(import_world, tmp_path, field):
    line = _dump(valid_record(f"s-{uuid.uuid4()}")).replace(b'"title": "', b'"title": "\\ud800', 1)
    if field == "external_id":
        line = _dump({**valid_record("x"), "external_id": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"\\udfff")
    before = import_counts()
    returncode, out, err = run_import(tmp_path, [line])
    assert (returncode, out.strip()) == (1, "created 0, updated 0, rejected 1")
    assert err.startswith(f"line 1: {field}: ")
    assert import_counts() == before
