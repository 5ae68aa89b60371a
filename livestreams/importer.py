"""Livestream import (JSON Lines, one livestream per line): validation, then upserts in batches.

The format and its rules are in ``docs/import.md`` (and the shared DATA-FORMAT.md). A line is first
cleaned completely by ``clean_record()``, which returns a ``Record`` or raises ``RecordError`` naming
the field path (``audience.age``, ``products[2].gmv``) and the reason; only clean records are written,
by ``write_records()``, a chunk of them in one transaction (one statement or COPY per table).
``import_lines()`` reads lines in chunks, cleans them, writes each chunk's clean records, and falls
back to one transaction per record for a chunk that hits a database error, so that only the
offending line is rejected.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import DatabaseError, transaction

from portal.models import Creator, Organization

from .models import (
    MINUTE_COLUMNS,
    Audience,
    Cooperation,
    Funnel,
    Livestream,
    MinutePoint,
    MinuteRow,
    ProductSale,
    TrafficSources,
    cooperation_sums,
    insert_rows,
    total_sums,
)

INT_MAX = 2_147_483_647  # PositiveIntegerField
BIGINT_MAX = 9_223_372_036_854_775_807  # PositiveBigIntegerField
SHARE_TOLERANCE = 0.01
FLOAT_SLACK = 1e-9

TOP_KEYS = (
    "external_id",
    "creator",
    "title",
    "started_at",
    "ended_at",
    "totals",
    "products",
    "minutes",
    "funnel",
    "sources",
    "audience",
)
TOTALS = {"viewers": BIGINT_MAX, "peak_online": INT_MAX, "avg_watch_seconds": INT_MAX, "new_followers": INT_MAX}
PRODUCT_KEYS = ("shop", "sku", "name", "price", "units", "orders", "gmv")
MINUTE_KEYS = ("at", "online", "entries", "gmv", "orders")
FUNNEL_KEYS = ("impressions", "entries", "product_impressions", "product_clicks", "orders")
SOURCE_KEYS = ("feed", "follow", "search", "video", "paid", "other")
AUDIENCE_KEYS = ("gender", "age", "provinces", "cities", "new_vs_returning")
GENDER_FIELDS = {"female": "female", "male": "male"}
AGE_FIELDS = {
    "18-23": "age_18_23",
    "24-30": "age_24_30",
    "31-40": "age_31_40",
    "41-50": "age_41_50",
    "50+": "age_50_plus",
}
VISITOR_FIELDS = {"new": "new", "returning": "returning"}

_MINUTE_KEY_SET = frozenset(MINUTE_KEYS)
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Money that is certainly good for a 14-digit column (at most 12 digits before the point, at most
# two after, no sign): what _money() accepts, checked in one regex (the per-minute fast path).
_PLAIN_MONEY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?").fullmatch
_PLAIN_MONEY_OF = {14: _PLAIN_MONEY, 12: re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?").fullmatch}
_SHARE_QUANTUM = Decimal("0.0001")
# Livestreams happen in this century; outside it a timestamp is a data error (and year 1 or 9999
# would overflow once converted to UTC for storage).
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2100, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


class RecordError(ValueError):
    """A rule broken by a record: ``field`` is the path (``products[2].gmv``), ``reason`` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Record:
    """A cleaned line, ready to write: plain values keyed like the model fields."""

    external_id: str
    creator_id: int
    title: str
    started_at: datetime.datetime
    ended_at: datetime.datetime | None
    totals: dict[str, int]
    products: list[dict[str, Any]]
    # (at, online, entries, gmv, orders): ``at`` an aware datetime or its canonical ISO 8601 text
    # (``2026-11-01T19:00:00+08:00``), ``gmv`` a Decimal or plain decimal text (``1200.00``); text as
    # validated, which the database reads as exactly that value (and COPY writes without converting).
    minutes: list[MinuteRow]
    funnel: dict[str, int]
    sources: dict[str, int]
    audience: dict[str, Any]


class Directory:
    """Creators by douyin_id and organizations by code, cached for the whole import (misses too)."""

    def __init__(self) -> None:
        self.creators: dict[str, int | None] = {}
        self.organizations: dict[str, tuple[int, str] | None] = {}

    def creator_id(self, douyin_id: str) -> int | None:
        if douyin_id not in self.creators:
            self.creators[douyin_id] = Creator.objects.filter(douyin_id=douyin_id).values_list("pk", flat=True).first()
        return self.creators[douyin_id]

    def prefetch(self, records: Iterable[Any]) -> None:
        """Look up, in one query each, the creators and shops that parsed records name and that are
        not known yet. Only plain strings are looked up here (one holding NUL, which PostgreSQL
        cannot take, is left to the per-name look-up, whose error names its line)."""
        creators, shops = set(), set()
        for data in records:
            if type(data) is not dict:
                continue
            douyin_id = data.get("creator")
            if type(douyin_id) is str and douyin_id and douyin_id not in self.creators and "\x00" not in douyin_id:
                creators.add(douyin_id)
            products = data.get("products")
            if type(products) is list:
                for item in products:
                    shop = item.get("shop") if type(item) is dict else None
                    if type(shop) is str and shop not in self.organizations and "\x00" not in shop:
                        shops.add(shop)
        if creators:
            self.creators.update(dict.fromkeys(creators))
            self.creators.update(Creator.objects.filter(douyin_id__in=creators).values_list("douyin_id", "pk"))
        self.load_organizations(shops)

    def load_organizations(self, codes: Iterable[str]) -> None:
        """One query for all the codes not seen yet."""
        missing = {code for code in codes if code not in self.organizations}
        if not missing:
            return
        found = Organization.objects.filter(code__in=missing).values_list("code", "pk", "kind")
        for code, pk, kind in found:
            self.organizations[code] = (pk, kind)
        for code in missing:
            self.organizations.setdefault(code, None)

    def organization(self, code: str) -> tuple[int, str] | None:
        if code not in self.organizations:
            self.load_organizations([code])
        return self.organizations[code]


# --- parsing and cleaning ------------------------------------------------------------------------


def parse_line(line: bytes | str) -> Any:
    """The JSON value of one line, or RecordError("record", ...)."""
    try:
        data = json.loads(line)
    except UnicodeDecodeError:
        raise RecordError("record", "not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise RecordError("record", f"invalid JSON ({error.msg} at column {error.colno})") from None
    # JSON may spell a lone surrogate (\ud800): valid JSON, but no text a database can store. Only a
    # line that could hold one (an escape \uD800-\uDFFF, or in a str a surrogate itself) is walked.
    maybe = _MAYBE_SURROGATE_BYTES if isinstance(line, bytes | bytearray) else _MAYBE_SURROGATE_TEXT
    if maybe.search(line):
        where = _lone_surrogate(data, "")
        if where is not None:
            raise RecordError(where or "record", "contains invalid Unicode (a lone surrogate)")
    return data


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first string (or key) holding a lone surrogate, or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return _path(path, key.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"))
            found = _lone_surrogate(item, _path(path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_MAYBE_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_MAYBE_SURROGATE_TEXT = re.compile("[\ud800-\udfff]|\\\\u[dD][89a-fA-F]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _key(key: str) -> str:
    """A key as it may appear in a one-line message: control characters escaped, empty quoted."""
    if not key:
        return '""'
    if _CONTROL.search(key) is None:
        return key
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", key)


def _path(parent: str, key: str) -> str:
    key = _key(key)
    return f"{parent}.{key}" if parent else key


def _object(value: Any, path: str, keys: tuple[str, ...]) -> dict:
    """``value`` is an object with exactly ``keys``: an unknown key or a missing one is named."""
    if not isinstance(value, dict):
        raise RecordError(path or "record", "must be a JSON object")
    for key in value:
        if key not in keys:
            raise RecordError(_path(path, key), "unknown key")
    for key in keys:
        if key not in value:
            raise RecordError(_path(path, key), "required")
    return value


def _exact_keys(value: Any, path: str, keys: Iterable[str], what: str = "keys") -> dict:
    """``value`` is an object whose keys are exactly ``keys`` (reported as one rule)."""
    keys = tuple(keys)
    if not isinstance(value, dict):
        raise RecordError(path, "must be a JSON object")
    if set(value) != set(keys) or len(value) != len(keys):
        raise RecordError(path, f"must have exactly the {what} {', '.join(keys)}")
    return value


def _text(value: Any, path: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(path, "must be a non-empty string")
    if len(value) > max_length:
        raise RecordError(path, f"must be at most {max_length} characters")
    return value


def _count(value: Any, path: str, maximum: int = INT_MAX) -> int:
    # bool is an int in Python; JSON's true/false are not counts.
    if type(value) is not int or value < 0:
        raise RecordError(path, "must be a non-negative integer")
    if value > maximum:
        raise RecordError(path, f"must be at most {maximum}")
    return value


def _money(value: Any, path: str, max_digits: int) -> Decimal:
    """A decimal string, ≥ 0, at most two places, fitting ``max_digits`` (with two places)."""
    if type(value) is str and _PLAIN_MONEY_OF[max_digits](value):  # the common case, in one regex
        return Decimal(value)
    if not isinstance(value, str):
        raise RecordError(path, "must be a decimal string")
    if not _DECIMAL.fullmatch(value):
        raise RecordError(path, "not a decimal")
    amount = Decimal(value)
    if amount < 0:
        raise RecordError(path, "must be ≥ 0")
    point = value.find(".")
    if point >= 0 and len(value) - point - 1 > 2:
        raise RecordError(path, "at most two decimal places")
    if amount >= 10 ** (max_digits - 2):
        raise RecordError(path, f"too large (at most {max_digits - 2} digits before the point)")
    return amount.copy_abs()  # "-0.00" is zero, stored without its sign


def _datetime(value: Any, path: str) -> datetime.datetime:
    if not isinstance(value, str):
        raise RecordError(path, "must be an ISO 8601 datetime string")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(path, "not an ISO 8601 datetime") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RecordError(path, "must include a UTC offset")
    try:
        in_range = EARLIEST <= moment <= LATEST
    except OverflowError:  # year 1 or 9999 shifted by its offset falls off the calendar
        in_range = False
    if not in_range:
        raise RecordError(path, "must be between 2000-01-01 and 2100-12-31")
    return moment


def _share(value: Any, path: str) -> float:
    if type(value) not in (int, float) or not 0 <= value <= 1:
        raise RecordError(path, "must be a share in [0, 1]")
    return value


def _shares_summing_to_one(value: Any, path: str, fields: dict[str, str], what: str) -> dict[str, Decimal]:
    _exact_keys(value, path, fields, what)
    shares = {key: _share(value[key], f"{path}.{key}") for key in fields}
    if abs(sum(shares.values()) - 1) > SHARE_TOLERANCE + FLOAT_SLACK:
        raise RecordError(path, "shares must sum to 1 (±0.01)")
    return {
        fields[key]: Decimal(repr(share)).quantize(_SHARE_QUANTUM, rounding=ROUND_HALF_EVEN)
        for key, share in shares.items()
    }


def _places(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise RecordError(path, "must be a JSON object")
    for name, share in value.items():
        if not name.strip():
            raise RecordError(path, "names must be non-empty")
        if type(share) not in (int, float) or not 0 <= share <= 1:
            _share(share, _path(path, name))  # raises; the path is built only then
    if sum(value.values()) > 1 + FLOAT_SLACK:
        raise RecordError(path, "shares must sum to at most 1")
    return dict(value)


def _clean_products(value: Any, directory: Directory) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise RecordError("products", "must be a list")
    directory.load_organizations(
        item["shop"] for item in value if isinstance(item, dict) and isinstance(item.get("shop"), str)
    )
    products = []
    seen: dict[tuple[int, str], int] = {}
    for index, item in enumerate(value):
        path = f"products[{index}]"
        _object(item, path, PRODUCT_KEYS)
        shop = item["shop"]
        if not isinstance(shop, str):
            raise RecordError(f"{path}.shop", "must be a shop code (a string)")
        organization = directory.organization(shop)
        if organization is None:
            raise RecordError(f"{path}.shop", f"unknown shop {shop!r}")
        organization_id, kind = organization
        if kind != Organization.Kind.SHOP:
            raise RecordError(f"{path}.shop", f"{shop!r} is not a shop (it is an {kind})")
        sku = _text(item["sku"], f"{path}.sku", 64)
        if (organization_id, sku) in seen:
            raise RecordError(f"{path}.sku", f"duplicate of products[{seen[organization_id, sku]}] (same shop and sku)")
        seen[organization_id, sku] = index
        products.append(
            {
                "organization_id": organization_id,
                "sku": sku,
                "name": _text(item["name"], f"{path}.name", 200),
                "price": _money(item["price"], f"{path}.price", 12),
                "units": _count(item["units"], f"{path}.units"),
                "orders": _count(item["orders"], f"{path}.orders"),
                "gmv": _money(item["gmv"], f"{path}.gmv", 14),
            }
        )
    if sum(p["gmv"] for p in products) >= 10**12:
        raise RecordError("products", "total gmv too large (at most 12 digits before the point)")
    return products


def _clean_minutes(value: Any, started_at: datetime.datetime, ended_at: datetime.datetime | None) -> list[MinuteRow]:
    """The minute points, checked in order; the first broken rule is raised.

    There are hundreds of points per line, so the common case takes a fast path that is exact: an
    ``at`` written ``YYYY-MM-DDTHH:MM:SS`` with the offset of ``started_at`` is compared as text
    (fixed width and one offset: text order is time order) with the bounds written the same way,
    and parsed once to prove it a real date and time; counts and money (``_PLAIN_MONEY``) are checked
    inline, and ``at`` and ``gmv`` kept as their text. Anything else goes through the general
    checks, which name the rule broken. Duplicates are found by the minute's local time at the
    offset of ``started_at`` (the same text as the fast path's), so one instant written with two
    offsets is one minute.
    """
    if not isinstance(value, list):
        raise RecordError("minutes", "must be a list")
    zone = started_at.tzinfo
    offset = started_at.utcoffset()
    suffix = None  # the text offset of started_at, "+08:00", when a whole number of minutes
    if offset is not None and not offset.microseconds and not offset.seconds % 60:
        sign, magnitude = ("-", -offset) if offset.days < 0 else ("+", offset)
        hours, minutes = divmod(magnitude.seconds // 60, 60)
        suffix = f"{sign}{hours:02d}:{minutes:02d}"
    low = _local_key(started_at, zone)
    high = _local_key(ended_at if ended_at is not None else LATEST, zone)
    fromisoformat = datetime.datetime.fromisoformat
    plain_money = _PLAIN_MONEY
    rows: list[MinuteRow] = []
    append = rows.append
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        try:
            # Five entries of which none is missing: exactly the five keys.
            if type(item) is not dict or len(item) != 5:
                raise KeyError
            text, online, entries, gmv, orders = (
                item["at"],
                item["online"],
                item["entries"],
                item["gmv"],
                item["orders"],
            )
        except KeyError:
            _object(item, f"minutes[{index}]", MINUTE_KEYS)
            raise AssertionError("unreachable: _object() raises") from None
        at = None
        if type(text) is str and len(text) == 25 and text[19:] == suffix and text[4:17:3] == "--T::":
            key = text[:19]
            if low <= key <= high:
                try:  # noqa: SIM105 (contextlib.suppress costs a context manager per minute)
                    fromisoformat(text)
                    at = text
                except ValueError:
                    pass
        if at is None:
            at, key = _minute_at(text, index, started_at, ended_at, zone)
        first = seen.setdefault(key, index)
        if first != index:
            raise RecordError(f"minutes[{index}].at", f"duplicate of minutes[{first}]")
        if (
            type(online) is int
            and type(entries) is int
            and type(orders) is int
            and 0 <= online <= INT_MAX
            and 0 <= entries <= INT_MAX
            and 0 <= orders <= INT_MAX
            and type(gmv) is str
            and plain_money(gmv)
        ):
            append((at, online, entries, gmv, orders))
        else:
            append(
                (
                    at,
                    _count(online, f"minutes[{index}].online"),
                    _count(entries, f"minutes[{index}].entries"),
                    _money(gmv, f"minutes[{index}].gmv", 14),
                    _count(orders, f"minutes[{index}].orders"),
                )
            )
    return rows


def _local_key(moment: datetime.datetime, zone: datetime.tzinfo | None) -> str:
    """``moment`` as local time at ``zone``'s offset, ISO text without the offset (the duplicate key)."""
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def _minute_at(
    value: Any, index: int, started_at: datetime.datetime, ended_at: datetime.datetime | None, zone
) -> tuple[datetime.datetime, str]:
    """A minute's ``at`` by the general rules (first broken one raised), with its duplicate key."""
    at = _datetime(value, f"minutes[{index}].at")
    if at < started_at:
        raise RecordError(f"minutes[{index}].at", "before started_at")
    if ended_at is not None and at > ended_at:
        raise RecordError(f"minutes[{index}].at", "after ended_at")
    return at, _local_key(at, zone)


def _clean_audience(value: Any) -> dict[str, Any]:
    _object(value, "audience", AUDIENCE_KEYS)
    return {
        **_shares_summing_to_one(value["gender"], "audience.gender", GENDER_FIELDS, "keys"),
        **_shares_summing_to_one(value["age"], "audience.age", AGE_FIELDS, "bands"),
        "provinces": _places(value["provinces"], "audience.provinces"),
        "cities": _places(value["cities"], "audience.cities"),
        **_shares_summing_to_one(value["new_vs_returning"], "audience.new_vs_returning", VISITOR_FIELDS, "keys"),
    }


def clean_record(data: Any, directory: Directory) -> Record:
    """Validate one parsed line completely; return a Record or raise the first RecordError."""
    _object(data, "", TOP_KEYS)
    external_id = _text(data["external_id"], "external_id", 64)
    douyin_id = data["creator"]
    if not isinstance(douyin_id, str) or not douyin_id:
        raise RecordError("creator", "must be a creator's douyin_id (a string)")
    creator_id = directory.creator_id(douyin_id)
    if creator_id is None:
        raise RecordError("creator", f"unknown creator {douyin_id!r}")
    title = _text(data["title"], "title", 200)
    started_at = _datetime(data["started_at"], "started_at")
    ended_at = None
    if data["ended_at"] is not None:
        ended_at = _datetime(data["ended_at"], "ended_at")
        if ended_at < started_at:
            raise RecordError("ended_at", "must not be before started_at")
    totals_in = _object(data["totals"], "totals", tuple(TOTALS))
    totals = {key: _count(totals_in[key], f"totals.{key}", maximum) for key, maximum in TOTALS.items()}
    products = _clean_products(data["products"], directory)
    minutes = _clean_minutes(data["minutes"], started_at, ended_at)
    funnel_in = _object(data["funnel"], "funnel", FUNNEL_KEYS)
    funnel = {key: _count(funnel_in[key], f"funnel.{key}", BIGINT_MAX) for key in FUNNEL_KEYS}
    sources_in = _exact_keys(data["sources"], "sources", SOURCE_KEYS)
    sources = {key: _count(sources_in[key], f"sources.{key}", BIGINT_MAX) for key in SOURCE_KEYS}
    audience = _clean_audience(data["audience"])
    return Record(
        external_id=external_id,
        creator_id=creator_id,
        title=title,
        started_at=started_at,
        ended_at=ended_at,
        totals=totals,
        products=products,
        minutes=minutes,
        funnel=funnel,
        sources=sources,
        audience=audience,
    )


# --- writing -------------------------------------------------------------------------------------

CHUNK_LINES = 200  # lines read, cleaned and written together (one transaction per chunk)
CHUNK_MINUTES = 50_000  # ... or fewer lines, when they hold this many minute points
UPSERT_FIELDS = ("creator", "title", "started_at", "ended_at", *TOTALS, "gmv", "orders", "units", "updated_at")
PRODUCT_COLUMNS = ("livestream", "organization", "sku", "name", "price", "units", "orders", "gmv")
COOPERATION_COLUMNS = ("livestream", "organization", "started_at", "gmv", "orders", "units")
AUDIENCE_COLUMNS = (
    "livestream",
    *GENDER_FIELDS.values(),
    *AGE_FIELDS.values(),
    *VISITOR_FIELDS.values(),
    "provinces",
    "cities",
)
CHILDREN = (MinutePoint, ProductSale, Cooperation, Funnel, TrafficSources, Audience)


def write_records(records: list[Record]) -> list[bool]:
    """Upsert livestreams by external_id with all their children; for each record, True if created.

    The external_ids must be distinct; call it inside a transaction (all or nothing). The existing
    livestreams are locked (``SELECT … FOR UPDATE``) and updated in place, so their primary keys
    stay and rows that refer to them (access requests) survive; their children are deleted and
    all the records' children written anew. A fixed number of statements whatever the number of
    records: the look-up, six deletes (only when some exist), one INSERT for the new livestreams,
    one upsert for the existing ones, one COPY (PostgreSQL; bulk_create elsewhere) each for the
    products, cooperations, minute points, funnels, sources and audiences.
    """
    existing = dict(
        Livestream.objects.select_for_update()
        .filter(external_id__in=[record.external_id for record in records])
        .order_by("pk")
        .values_list("external_id", "pk")
    )
    if existing:
        ids = list(existing.values())
        for model in CHILDREN:
            model.objects.filter(livestream_id__in=ids).delete()

    cooperations = [
        cooperation_sums((p["organization_id"], p["gmv"], p["orders"], p["units"]) for p in record.products)
        for record in records
    ]
    new, old = [], []
    for record, by_organization in zip(records, cooperations, strict=True):
        livestream = Livestream(
            external_id=record.external_id,
            creator_id=record.creator_id,
            title=record.title,
            started_at=record.started_at,
            ended_at=record.ended_at,
            **record.totals,
            **total_sums(by_organization.values())._asdict(),
        )
        (old if record.external_id in existing else new).append(livestream)
    if new:
        Livestream.objects.bulk_create(new)  # a plain INSERT: one created meanwhile is an error, not a merge
    if old:
        # The rows exist and are locked: INSERT … ON CONFLICT (external_id) DO UPDATE is one UPDATE of
        # them all, keeping id and created_at (bulk_update would build a CASE per field and row).
        Livestream.objects.bulk_create(
            old, update_conflicts=True, unique_fields=["external_id"], update_fields=UPSERT_FIELDS
        )
    pks = {livestream.external_id: livestream.pk for livestream in new}
    pks.update(existing)
    keys = [pks[record.external_id] for record in records]

    insert_rows(
        ProductSale,
        PRODUCT_COLUMNS,
        [
            (pk, p["organization_id"], p["sku"], p["name"], p["price"], p["units"], p["orders"], p["gmv"])
            for pk, record in zip(keys, records, strict=True)
            for p in record.products
        ],
    )
    insert_rows(
        Cooperation,
        COOPERATION_COLUMNS,
        [
            (pk, organization_id, record.started_at, *sums)
            for pk, record, by_organization in zip(keys, records, cooperations, strict=True)
            for organization_id, sums in by_organization.items()
        ],
    )
    minutes = []
    for pk, record in zip(keys, records, strict=True):
        minutes += [(pk, *row) for row in record.minutes]
    insert_rows(MinutePoint, MINUTE_COLUMNS, minutes)
    insert_rows(
        Funnel,
        ("livestream", *FUNNEL_KEYS),
        [(pk, *map(record.funnel.__getitem__, FUNNEL_KEYS)) for pk, record in zip(keys, records, strict=True)],
    )
    insert_rows(
        TrafficSources,
        ("livestream", *SOURCE_KEYS),
        [(pk, *map(record.sources.__getitem__, SOURCE_KEYS)) for pk, record in zip(keys, records, strict=True)],
    )
    insert_rows(
        Audience,
        AUDIENCE_COLUMNS,
        [
            (pk, *map(record.audience.__getitem__, AUDIENCE_COLUMNS[1:]))
            for pk, record in zip(keys, records, strict=True)
        ],
    )
    return [record.external_id not in existing for record in records]


@transaction.atomic
def save_record(record: Record) -> bool:
    """Upsert one livestream by external_id with all its children, in one transaction; True if created."""
    return write_records([record])[0]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    rejected: int = 0
    minutes: int = 0
    errors: list[str] = field(default_factory=list)  # kept only when no on_error callback is given

    @property
    def lines(self) -> int:
        return self.created + self.updated + self.rejected

    def summary(self) -> str:
        return f"created {self.created}, updated {self.updated}, rejected {self.rejected}"


# What became of a line: its error message, or (created, minute points written).
Outcome = str | tuple[bool, int]


def import_lines(
    lines: Iterable[bytes | str],
    *,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[ImportResult], None] | None = None,
    progress_every: int = 1000,
    chunk_lines: int = CHUNK_LINES,
    chunk_minutes: int = CHUNK_MINUTES,
) -> ImportResult:
    """Import JSON Lines; each error is ``line N: field: reason`` (N counts every physical line).

    Blank lines are skipped and counted nowhere. Every other line is created, updated or rejected.
    Lines are read in chunks (``chunk_lines``, or fewer holding ``chunk_minutes`` minute points),
    and each chunk's clean records written together; errors, counts and progress are reported in
    line order after each chunk, exactly as if the lines had been imported one after another.
    """
    result = ImportResult()
    directory = Directory()
    for chunk in _chunks(lines, chunk_lines, chunk_minutes):
        outcomes, runs = _clean_chunk(chunk, directory)
        for run in runs:
            outcomes.update(_write_run(run))
        for number, _data in chunk:
            outcome = outcomes[number]
            if isinstance(outcome, str):
                _reject(result, outcome, on_error)
            else:
                created, minutes = outcome
                result.minutes += minutes
                if created:
                    result.created += 1
                else:
                    result.updated += 1
            if on_progress is not None and result.lines % progress_every == 0:
                on_progress(result)
    return result


def _chunks(lines: Iterable[bytes | str], chunk_lines: int, chunk_minutes: int) -> Iterator[list[tuple[int, Any]]]:
    """The non-blank lines, parsed, in chunks: (line number, JSON value or the RecordError of parsing it)."""
    chunk: list[tuple[int, Any]] = []
    size = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = parse_line(line)
        except RecordError as error:
            data = error
        else:
            minutes = data.get("minutes") if type(data) is dict else None
            if type(minutes) is list:
                size += len(minutes)
        chunk.append((number, data))
        if len(chunk) >= chunk_lines or size >= chunk_minutes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _clean_chunk(
    chunk: list[tuple[int, Any]], directory: Directory
) -> tuple[dict[int, Outcome], list[list[tuple[int, Record]]]]:
    """The rejected lines' outcomes, and the clean records in runs to write, each a transaction.

    A run holds distinct external_ids: a repeated one starts a new run, so that the later line
    updates what the earlier one wrote, as when the lines are imported one after another.
    """
    directory.prefetch(data for _number, data in chunk)
    outcomes: dict[int, Outcome] = {}
    runs: list[list[tuple[int, Record]]] = [[]]
    ids: set[str] = set()
    for number, data in chunk:
        if isinstance(data, RecordError):
            outcomes[number] = f"line {number}: {data.field}: {data.reason}"
            continue
        try:
            record = clean_record(data, directory)
        except RecordError as error:
            outcomes[number] = f"line {number}: {error.field}: {error.reason}"
            continue
        except DatabaseError as error:
            outcomes[number] = _database_error(number, error)
            continue
        if record.external_id in ids:
            runs.append([])
            ids = set()
        runs[-1].append((number, record))
        ids.add(record.external_id)
    return outcomes, [run for run in runs if run]


def _write_run(run: list[tuple[int, Record]]) -> dict[int, Outcome]:
    """Write records with distinct external_ids in one transaction; if the database refuses it, each
    record in its own transaction, so that only the lines it refuses are rejected."""
    try:
        with transaction.atomic():
            created = write_records([record for _number, record in run])
    except DatabaseError as error:
        if len(run) == 1:
            return {run[0][0]: _database_error(run[0][0], error)}
        outcomes: dict[int, Outcome] = {}
        for number, record in run:
            try:
                created_one = save_record(record)
            except DatabaseError as error:
                outcomes[number] = _database_error(number, error)
            else:
                outcomes[number] = (created_one, len(record.minutes))
        return outcomes
    return {number: (new, len(record.minutes)) for (number, record), new in zip(run, created, strict=True)}


def _database_error(number: int, error: DatabaseError) -> str:
    return f"line {number}: record: database error: {str(error).strip()}"


def _reject(result: ImportResult, message: str, on_error: Callable[[str], None] | None) -> None:
    result.rejected += 1
    if on_error is not None:
        on_error(message)
    else:
        result.errors.append(message)
