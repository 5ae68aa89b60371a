"""The import's lines, cleaned: a parsed line checked completely against the format
(``docs/import.md``) and turned into a ``LivestreamRecord`` ready to write, or the first broken rule
raised as ``RecordError`` (``line N: field: reason`` once the importer adds the line).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from portal.models import Creator, Organization

from .bulk import MinuteRow
from .import_values import (
    BIGINT_MAX,
    INT_MAX,
    LATEST,
    PLAIN_MONEY,
    RecordError,
    check_count,
    check_datetime,
    check_exact_keys,
    check_money,
    check_object,
    check_places,
    check_shares,
    check_text,
)
from .writes import LivestreamRecord

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
OPTIONAL_KEYS = ("partners",)  # absent: none
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
        """Look up, in one query each, the creators and organizations (shops, partners) that parsed
        records name and that are not known yet. Only plain strings are looked up here (one holding
        NUL, which PostgreSQL cannot take, is left to the per-name look-up, whose error names its line)."""
        creators, codes = set(), set()
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
                        codes.add(shop)
            partners = data.get("partners")
            if type(partners) is list:
                codes.update(
                    code
                    for code in partners
                    if type(code) is str and code not in self.organizations and "\x00" not in code
                )
        if creators:
            self.creators.update(dict.fromkeys(creators))
            self.creators.update(Creator.objects.filter(douyin_id__in=creators).values_list("douyin_id", "pk"))
        self.load_organizations(codes)

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
        check_object(item, path, PRODUCT_KEYS)
        shop = item["shop"]
        if not isinstance(shop, str):
            raise RecordError(f"{path}.shop", "must be a shop code (a string)")
        organization = directory.organization(shop)
        if organization is None:
            raise RecordError(f"{path}.shop", f"unknown shop {shop!r}")
        organization_id, kind = organization
        if kind != Organization.Kind.SHOP:
            raise RecordError(f"{path}.shop", f"{shop!r} is not a shop (it is an {kind})")
        sku = check_text(item["sku"], f"{path}.sku", 64)
        if (organization_id, sku) in seen:
            raise RecordError(f"{path}.sku", f"duplicate of products[{seen[organization_id, sku]}] (same shop and sku)")
        seen[organization_id, sku] = index
        products.append(
            {
                "organization_id": organization_id,
                "sku": sku,
                "name": check_text(item["name"], f"{path}.name", 200),
                "price": check_money(item["price"], f"{path}.price", 12),
                "units": check_count(item["units"], f"{path}.units"),
                "orders": check_count(item["orders"], f"{path}.orders"),
                "gmv": check_money(item["gmv"], f"{path}.gmv", 14),
            }
        )
    if sum(p["gmv"] for p in products) >= 10**12:
        raise RecordError("products", "total gmv too large (at most 12 digits before the point)")
    return products


def _clean_partners(value: Any, directory: Directory) -> list[int]:
    """The agencies that worked on the livestream without selling in it: their ids, in order."""
    if not isinstance(value, list):
        raise RecordError("partners", "must be a list")
    directory.load_organizations(code for code in value if isinstance(code, str) and "\x00" not in code)
    partners: list[int] = []
    for index, code in enumerate(value):
        path = f"partners[{index}]"
        if not isinstance(code, str) or not code:
            raise RecordError(path, "must be an agency code (a string)")
        organization = directory.organization(code)
        if organization is None:
            raise RecordError(path, f"unknown agency {code!r}")
        organization_id, kind = organization
        if kind != Organization.Kind.AGENCY:
            raise RecordError(path, f"{code!r} is not an agency (it is a {kind})")
        if organization_id in partners:
            raise RecordError(path, f"duplicate of partners[{partners.index(organization_id)}]")
        partners.append(organization_id)
    return partners


def _clean_minutes(value: Any, started_at: datetime.datetime, ended_at: datetime.datetime | None) -> list[MinuteRow]:
    """The minute points, checked in order; the first broken rule is raised.

    There are hundreds of points per line, so the common case takes a fast path that is exact: an
    ``at`` written ``YYYY-MM-DDTHH:MM:SS`` with the offset of ``started_at`` is compared as text
    (fixed width and one offset: text order is time order) with the bounds written the same way,
    and parsed once to prove it a real date and time; counts and money (``PLAIN_MONEY``) are checked
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
    plain_money = PLAIN_MONEY
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
            check_object(item, f"minutes[{index}]", MINUTE_KEYS)
            raise AssertionError("unreachable: check_object() raises") from None
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
                    check_count(online, f"minutes[{index}].online"),
                    check_count(entries, f"minutes[{index}].entries"),
                    check_money(gmv, f"minutes[{index}].gmv", 14),
                    check_count(orders, f"minutes[{index}].orders"),
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
    at = check_datetime(value, f"minutes[{index}].at")
    if at < started_at:
        raise RecordError(f"minutes[{index}].at", "before started_at")
    if ended_at is not None and at > ended_at:
        raise RecordError(f"minutes[{index}].at", "after ended_at")
    return at, _local_key(at, zone)


def _clean_audience(value: Any) -> dict[str, Any]:
    check_object(value, "audience", AUDIENCE_KEYS)
    return {
        **check_shares(value["gender"], "audience.gender", GENDER_FIELDS, "keys"),
        **check_shares(value["age"], "audience.age", AGE_FIELDS, "bands"),
        "provinces": check_places(value["provinces"], "audience.provinces"),
        "cities": check_places(value["cities"], "audience.cities"),
        **check_shares(value["new_vs_returning"], "audience.new_vs_returning", VISITOR_FIELDS, "keys"),
    }


def clean_record(data: Any, directory: Directory) -> LivestreamRecord:
    """Validate one parsed line completely; return a LivestreamRecord or raise the first RecordError."""
    check_object(data, "", TOP_KEYS, OPTIONAL_KEYS)
    external_id = check_text(data["external_id"], "external_id", 64)
    douyin_id = data["creator"]
    if not isinstance(douyin_id, str) or not douyin_id:
        raise RecordError("creator", "must be a creator's douyin_id (a string)")
    creator_id = directory.creator_id(douyin_id)
    if creator_id is None:
        raise RecordError("creator", f"unknown creator {douyin_id!r}")
    title = check_text(data["title"], "title", 200)
    started_at = check_datetime(data["started_at"], "started_at")
    ended_at = None
    if data["ended_at"] is not None:
        ended_at = check_datetime(data["ended_at"], "ended_at")
        if ended_at < started_at:
            raise RecordError("ended_at", "must not be before started_at")
    totals_in = check_object(data["totals"], "totals", tuple(TOTALS))
    totals = {key: check_count(totals_in[key], f"totals.{key}", maximum) for key, maximum in TOTALS.items()}
    products = _clean_products(data["products"], directory)
    partners = _clean_partners(data["partners"], directory) if "partners" in data else []
    minutes = _clean_minutes(data["minutes"], started_at, ended_at)
    funnel_in = check_object(data["funnel"], "funnel", FUNNEL_KEYS)
    funnel = {key: check_count(funnel_in[key], f"funnel.{key}", BIGINT_MAX) for key in FUNNEL_KEYS}
    sources_in = check_exact_keys(data["sources"], "sources", SOURCE_KEYS)
    sources = {key: check_count(sources_in[key], f"sources.{key}", BIGINT_MAX) for key in SOURCE_KEYS}
    audience = _clean_audience(data["audience"])
    return LivestreamRecord(
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
        partners=partners,
    )
