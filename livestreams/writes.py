"""The writers of the livestream data: every write of a livestream and of its rows goes through here.

Named, keyword-only, typed functions, each in one transaction. Each keeps what is derived from what
it writes in step by calling it directly, in that transaction:

- the livestream's sums (``gmv``, ``orders``, ``units``) and its cooperations (figures and their
  copy of ``started_at``): from its products and partners (``bulk.cooperations_of()``);
- the creator roll-ups (``CreatorDay``; the products and shops per day and their ceilings):
  ``rollup.refresh_creator_days()`` with every (creator, day) a written livestream had before and
  has after (the day of a livestream whose products change, too);
- ``updated_at``, moved by every writer (the module cache key is made of the livestream's row);
- the access requests when a livestream moves to another creator: its pending and approved requests
  end (``grants.services.end_livestream_access()``, one history event each), so no approval given
  by the former creator outlives the move.

Nothing else keeps them: no ``save``/``delete``/``update`` overrides, no signals. The importer writes
through ``upsert_livestreams()`` (a chunk of lines at once), the factories and ``seed_demo`` through
``upsert_livestream()``, ``demo_live`` through ``update_live_figures()``, the admin through
``move_livestream()`` and ``delete_livestreams()``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from grants.services import end_livestream_access
from portal.models import Creator, Organization

from .bulk import MINUTE_COLUMNS, MinuteRow, Sums, cooperations_of, insert_rows, total_sums
from .models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources, local_day
from .rollup import refresh_creator_days

TOTALS = ("viewers", "peak_online", "avg_watch_seconds", "new_followers")
PRODUCT_FIELDS = ("organization_id", "sku", "name", "price", "units", "orders", "gmv")
FUNNEL_FIELDS = tuple(key for key, _label in Funnel.STEPS)
SOURCE_FIELDS = tuple(key for key, _label in TrafficSources.SOURCES)
AUDIENCE_FIELDS = (*Audience.SHARE_FIELDS, "provinces", "cities")
# What an upsert of an existing livestream writes (its id and created_at stay).
UPSERT_FIELDS = ("creator", "title", "started_at", "ended_at", *TOTALS, "gmv", "orders", "units", "updated_at")
CHILDREN = (MinutePoint, ProductSale, Cooperation, Funnel, TrafficSources, Audience)


@dataclass
class LivestreamRecord:
    """One livestream's complete data, as ``upsert_livestreams()`` writes it (an imported line)."""

    external_id: str
    creator_id: int
    title: str
    started_at: datetime.datetime
    ended_at: datetime.datetime | None
    totals: Mapping[str, int]  # TOTALS
    products: Sequence[Mapping[str, Any]]  # PRODUCT_FIELDS each
    minutes: Sequence[MinuteRow]
    funnel: Mapping[str, int] | None  # FUNNEL_FIELDS; None: no funnel row
    sources: Mapping[str, int] | None  # SOURCE_FIELDS; None: no row
    audience: Mapping[str, Any] | None  # AUDIENCE_FIELDS; None: no row
    partners: Sequence[int] = ()  # ids of organizations that cooperated without products


def _product_sums(products: Iterable[Mapping[str, Any]]) -> Iterable[tuple[int, Any, int, int]]:
    return ((p["organization_id"], p["gmv"], p["orders"], p["units"]) for p in products)


@transaction.atomic(savepoint=False)
def upsert_livestreams(records: Sequence[LivestreamRecord]) -> list[bool]:
    """Create or update livestreams by ``external_id`` with all their rows; for each record, True
    if it was created. The external_ids must be distinct.

    The existing livestreams are locked (``SELECT … FOR UPDATE``) and updated in place, so their
    primary keys stay and rows that refer to them (access requests) survive; their rows are
    deleted and all the records' rows written anew. A fixed number of statements whatever the
    number of records: the look-up, six deletes (only when some exist), one INSERT for the new
    livestreams, one upsert for the existing ones, one COPY (PostgreSQL; bulk_create elsewhere)
    each for the products, cooperations, minute points, funnels, sources and audiences, then the
    roll-up of the days before and after, and the open requests of livestreams that changed creator
    are ended (``end_livestream_access``; no actor: an import).
    """
    existing = {
        external_id: (pk, creator_id, started_at)
        for external_id, pk, creator_id, started_at in Livestream.objects.select_for_update()
        .filter(external_id__in=[record.external_id for record in records])
        .order_by("pk")
        .values_list("external_id", "pk", "creator_id", "started_at")
    }
    if existing:
        ids = [pk for pk, _creator_id, _started_at in existing.values()]
        for model in CHILDREN:
            model.objects.filter(livestream_id__in=ids).delete()

    cooperations = [cooperations_of(_product_sums(record.products), record.partners) for record in records]
    new, old = [], []
    for record, by_organization in zip(records, cooperations, strict=True):
        livestream = Livestream(
            external_id=record.external_id,
            creator_id=record.creator_id,
            title=record.title,
            started_at=record.started_at,
            ended_at=record.ended_at,
            **{name: record.totals[name] for name in TOTALS},
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
    pks.update((external_id, pk) for external_id, (pk, _creator_id, _started_at) in existing.items())
    keys = [pks[record.external_id] for record in records]
    written = list(zip(keys, records, strict=True))

    insert_rows(
        ProductSale,
        ("livestream", *PRODUCT_FIELDS),
        [(pk, *map(p.__getitem__, PRODUCT_FIELDS)) for pk, record in written for p in record.products],
    )
    insert_rows(
        Cooperation,
        ("livestream", "organization", "started_at", *Sums._fields),
        [
            (pk, organization_id, record.started_at, *sums)
            for (pk, record), by_organization in zip(written, cooperations, strict=True)
            for organization_id, sums in by_organization.items()
        ],
    )
    minutes = []
    for pk, record in written:
        minutes += [(pk, *row) for row in record.minutes]
    insert_rows(MinutePoint, MINUTE_COLUMNS, minutes)
    for model, attribute, fields in (
        (Funnel, "funnel", FUNNEL_FIELDS),
        (TrafficSources, "sources", SOURCE_FIELDS),
        (Audience, "audience", AUDIENCE_FIELDS),
    ):
        values = [(pk, getattr(record, attribute)) for pk, record in written]
        insert_rows(model, ("livestream", *fields), [(pk, *map(row.__getitem__, fields)) for pk, row in values if row])

    before = {(creator_id, local_day(started_at)) for _pk, creator_id, started_at in existing.values()}
    refresh_creator_days(before | {(record.creator_id, local_day(record.started_at)) for record in records})
    moved: dict[int, list[int]] = defaultdict(list)
    for record in records:
        if record.external_id in existing and existing[record.external_id][1] != record.creator_id:
            moved[record.creator_id].append(existing[record.external_id][0])
    for creator_id, livestream_ids in moved.items():
        end_livestream_access(livestream_ids=livestream_ids, creator_id=creator_id)
    return [record.external_id not in existing for record in records]


def upsert_livestream(
    *,
    external_id: str,
    creator: Creator,
    title: str,
    started_at: datetime.datetime,
    ended_at: datetime.datetime | None,
    totals: Mapping[str, int],
    products: Iterable[Mapping[str, Any]] = (),
    partners: Iterable[Organization] = (),
    minutes: Iterable[MinuteRow] = (),
    funnel: Mapping[str, int] | None = None,
    sources: Mapping[str, int] | None = None,
    audience: Mapping[str, Any] | None = None,
) -> Livestream:
    """Create the livestream ``external_id``, or replace everything of it, with its rows; returns it.

    ``products`` are mappings of ProductSale fields (``organization`` or ``organization_id``,
    ``sku``, ``name``, ``price``, ``units``, ``orders``, ``gmv``); ``partners`` organizations that
    cooperate without products; ``totals`` the four ``TOTALS``. ``upsert_livestreams()`` for one.
    """
    upsert_livestreams(
        [
            LivestreamRecord(
                external_id=external_id,
                creator_id=creator.pk,
                title=title,
                started_at=started_at,
                ended_at=ended_at,
                totals=totals,
                products=[_product_row(row) for row in products],
                minutes=list(minutes),
                funnel=funnel,
                sources=sources,
                audience=audience,
                partners=[organization.pk for organization in partners],
            )
        ]
    )
    return Livestream.objects.select_related("creator").get(external_id=external_id)


def _product_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A product as a mapping of ``PRODUCT_FIELDS`` (``organization`` given as an object or its id)."""
    row = dict(row)
    if "organization" in row:
        row["organization_id"] = row.pop("organization").pk
    return {name: row[name] for name in PRODUCT_FIELDS}


def _lock(livestream: Livestream) -> Livestream:
    """The livestream's row as the database has it now, locked until the transaction ends."""
    return Livestream.objects.select_for_update().get(pk=livestream.pk)


def _write(livestream: Livestream, locked: Livestream, **fields: Any) -> None:
    """Write ``fields`` and a new ``updated_at`` into the row, and onto the caller's instance."""
    fields["updated_at"] = timezone.now()
    Livestream.objects.filter(pk=locked.pk).update(**fields)
    for name, value in fields.items():
        setattr(livestream, name, value)


def _replace_products(
    locked: Livestream, products: Iterable[Mapping[str, Any]], partners: Iterable[int] | None
) -> Sums:
    """Replace the products and cooperations of a locked livestream; returns its new sums.
    ``partners`` None keeps the organizations that cooperate in it now without products."""
    if partners is None:
        partners = list(
            locked.cooperations.exclude(organization__in=locked.products.values("organization")).values_list(
                "organization_id", flat=True
            )
        )
    rows = [_product_row(row) for row in products]
    ProductSale.objects.filter(livestream=locked).delete()
    Cooperation.objects.filter(livestream=locked).delete()
    ProductSale.objects.bulk_create([ProductSale(livestream=locked, **row) for row in rows], batch_size=500)
    by_organization = cooperations_of(_product_sums(rows), partners)
    Cooperation.objects.bulk_create(
        Cooperation(livestream=locked, organization_id=organization_id, started_at=locked.started_at, **sums._asdict())
        for organization_id, sums in by_organization.items()
    )
    return total_sums(by_organization.values())


@transaction.atomic
def replace_products(
    *, livestream: Livestream, products: Iterable[Mapping[str, Any]], partners: Iterable[Organization] | None = None
) -> Livestream:
    """Replace the livestream's products, and with them its cooperations and its sums.

    ``products`` as for ``upsert_livestream()``. ``partners``: the organizations that cooperate
    without products; None keeps those it has. The livestream's day in the roll-up is refreshed.
    """
    locked = _lock(livestream)
    partner_ids = None if partners is None else [organization.pk for organization in partners]
    sums = _replace_products(locked, products, partner_ids)
    _write(livestream, locked, **sums._asdict())
    refresh_creator_days([(locked.creator_id, local_day(locked.started_at))])
    return livestream


@transaction.atomic
def add_minutes(*, livestream: Livestream, minutes: Iterable[MinuteRow]) -> int:
    """Insert minute points (at, online, entries, gmv, orders) in bulk; returns the count."""
    locked = _lock(livestream)
    count = insert_rows(MinutePoint, MINUTE_COLUMNS, [(locked.pk, *row) for row in minutes])
    _write(livestream, locked)
    return count


@transaction.atomic
def replace_minutes(*, livestream: Livestream, minutes: Iterable[MinuteRow]) -> int:
    """Replace the minute series with ``minutes``; returns the count."""
    MinutePoint.objects.filter(livestream_id=_lock(livestream).pk).delete()
    return add_minutes(livestream=livestream, minutes=minutes)


@transaction.atomic
def update_live_figures(
    *,
    livestream: Livestream,
    minute: MinuteRow | None = None,
    products: Iterable[Mapping[str, Any]] | None = None,
    totals: Mapping[str, int] | None = None,
    ended_at: datetime.datetime | None = None,
) -> Livestream:
    """What a live livestream's feed brings, written together: ``minute`` replaces the point of its
    minute (or adds it), ``products`` replace the products (partners kept, sums and cooperations
    recomputed), ``totals`` set any of ``TOTALS``, ``ended_at`` ends it. The roll-up of its day is
    refreshed."""
    unknown = set(totals or ()) - set(TOTALS)
    if unknown:
        raise ValueError(f"not a total: {', '.join(sorted(unknown))}")
    locked = _lock(livestream)
    fields: dict[str, Any] = dict(totals or {})
    if ended_at is not None:
        fields["ended_at"] = ended_at
    if minute is not None:
        MinutePoint.objects.filter(livestream_id=locked.pk, at=minute[0]).delete()
        insert_rows(MinutePoint, MINUTE_COLUMNS, [(locked.pk, *minute)])
    if products is not None:
        fields.update(_replace_products(locked, products, None)._asdict())
    _write(livestream, locked, **fields)
    refresh_creator_days([(locked.creator_id, local_day(locked.started_at))])
    return livestream


@transaction.atomic
def move_livestream(*, livestream: Livestream, creator: Creator, actor=None) -> Livestream:
    """Give the livestream to another creator: the roll-up of its day follows for both creators, and
    its pending and approved access requests end (``end_livestream_access``, ``actor``: the staff
    member who moved it; None when no user did)."""
    locked = _lock(livestream)
    _write(livestream, locked, creator=creator)
    if locked.creator_id != creator.pk:
        day = local_day(locked.started_at)
        refresh_creator_days([(locked.creator_id, day), (creator.pk, day)])
        end_livestream_access(livestream_ids=[locked.pk], creator_id=creator.pk, actor=actor)
    return livestream


@transaction.atomic
def delete_livestreams(*, ids: Iterable[int]) -> int:
    """Delete livestreams with all their rows; returns how many. Refused (``ProtectedError``, nothing
    deleted) while access requests point at one of them. The roll-up of their days is refreshed."""
    rows = list(
        Livestream.objects.select_for_update()
        .filter(pk__in=list(ids))
        .order_by("pk")
        .values_list("pk", "creator_id", "started_at")
    )
    if not rows:
        return 0
    Livestream.objects.filter(pk__in=[pk for pk, _creator_id, _started_at in rows]).delete()
    refresh_creator_days({(creator_id, local_day(started_at)) for _pk, creator_id, started_at in rows})
    return len(rows)


def delete_livestream(*, livestream: Livestream) -> None:
    """Delete one livestream with all its rows (``delete_livestreams()``)."""
    delete_livestreams(ids=[livestream.pk])
