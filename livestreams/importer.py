"""Livestream import (JSON Lines, one livestream per line): validation, then an upsert per line.

The format and its rules are in ``docs/import.md`` (and the shared DATA-FORMAT.md). A line is first
cleaned completely by ``clean_record()``, which returns a ``Record`` or raises ``RecordError`` naming
the field path (``audience.age``, ``products[2].gmv``) and the reason; only a clean record is written,
by ``save_record()``, in one transaction. ``import_lines()`` runs both over an iterable of lines.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import DatabaseError, transaction

from portal.models import Creator, Organization

from .models import Audience, Funnel, Livestream, TrafficSources

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
    minutes: list[tuple[datetime.datetime, int, int, Decimal, int]]
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
    # JSON may spell a lone surrogate (\ud800): valid JSON, but no text a database can store.
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _key(key: str) -> str:
    """A key as it may appear in a one-line message: control characters escaped, empty quoted."""
    if not key:
        return '""'
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
        _share(share, _path(path, name))
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


def _clean_minutes(
    value: Any, started_at: datetime.datetime, ended_at: datetime.datetime | None
) -> list[tuple[datetime.datetime, int, int, Decimal, int]]:
    if not isinstance(value, list):
        raise RecordError("minutes", "must be a list")
    minutes = []
    seen: dict[datetime.datetime, int] = {}
    for index, item in enumerate(value):
        # The common case (exactly the five keys) skips the detailed key check.
        if type(item) is not dict or item.keys() != _MINUTE_KEY_SET:
            _object(item, f"minutes[{index}]", MINUTE_KEYS)
        at = _datetime(item["at"], f"minutes[{index}].at")
        if at < started_at:
            raise RecordError(f"minutes[{index}].at", "before started_at")
        if ended_at is not None and at > ended_at:
            raise RecordError(f"minutes[{index}].at", "after ended_at")
        if at in seen:
            raise RecordError(f"minutes[{index}].at", f"duplicate of minutes[{seen[at]}]")
        seen[at] = index
        minutes.append(
            (
                at,
                _count(item["online"], f"minutes[{index}].online"),
                _count(item["entries"], f"minutes[{index}].entries"),
                _money(item["gmv"], f"minutes[{index}].gmv", 14),
                _count(item["orders"], f"minutes[{index}].orders"),
            )
        )
    return minutes


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


@transaction.atomic
def save_record(record: Record) -> bool:
    """Upsert the livestream by external_id with all its children; True if it was created.

    An existing livestream is updated in place (same primary key, so rows that refer to it, such as
    access requests, survive) and its children are replaced.
    """
    livestream = Livestream.objects.select_for_update().filter(external_id=record.external_id).first()
    created = livestream is None
    if created:
        livestream = Livestream(external_id=record.external_id)
    livestream.creator_id = record.creator_id
    livestream.title = record.title
    livestream.started_at = record.started_at
    livestream.ended_at = record.ended_at
    for name, value in record.totals.items():
        setattr(livestream, name, value)
    livestream.save()

    if not created:
        livestream.minutes.all().delete()
    livestream.replace_products(record.products)
    livestream.add_minutes(record.minutes)
    # A new livestream has no metrics yet: insert. An existing one: save() updates, or inserts if missing.
    for model, values in ((Funnel, record.funnel), (TrafficSources, record.sources), (Audience, record.audience)):
        model(livestream=livestream, **values).save(force_insert=created)
    return created


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


def import_lines(
    lines: Iterable[bytes | str],
    *,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[ImportResult], None] | None = None,
    progress_every: int = 1000,
) -> ImportResult:
    """Import JSON Lines; each error is ``line N: field: reason`` (N counts every physical line).

    Blank lines are skipped and counted nowhere. Every other line is created, updated or rejected.
    """
    result = ImportResult()
    directory = Directory()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = clean_record(parse_line(line), directory)
            created = save_record(record)
        except RecordError as error:
            _reject(result, f"line {number}: {error.field}: {error.reason}", on_error)
        except DatabaseError as error:
            _reject(result, f"line {number}: record: database error: {str(error).strip()}", on_error)
        else:
            result.minutes += len(record.minutes)
            if created:
                result.created += 1
            else:
                result.updated += 1
        if on_progress is not None and result.lines % progress_every == 0 and result.lines:
            on_progress(result)
    return result


def _reject(result: ImportResult, message: str, on_error: Callable[[str], None] | None) -> None:
    result.rejected += 1
    if on_error is not None:
        on_error(message)
    else:
        result.errors.append(message)
