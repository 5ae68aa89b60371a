"""Pagination without ``COUNT(*)``: fetch one row more than a page to know whether another follows.

Lists show their totals elsewhere (status tabs), so a page costs one query whatever the table size.
A deep page of a QuerySet on PostgreSQL reads its keys first (``keys_first``): the rows skipped by
the OFFSET are walked as primary keys only, and the page's own rows (their joins, annotations) are
read by id, in the same query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections, models
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

PER_PAGE = 20
MAX_PAGE = 10_000
# From this offset on, a QuerySet's page is read keys first (below it the plain slice is as cheap).
KEYS_FIRST_FROM = 100


@dataclass
class Page:
    object_list: list[Any]
    number: int
    per_page: int
    has_next: bool
    param: str = "page"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.object_list) - 1 if self.object_list else 0

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def page_number(request, param: str = "page") -> int:
    try:
        number = int(request.GET.get(param, 1))
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def paginate(
    rows, request, per_page: int = PER_PAGE, param: str = "page", key: str = "pk", by_key: QuerySet | None = None
) -> Page:
    """Page ``page`` (the ``param`` query parameter) of ``rows``: a QuerySet (sliced; a deep page
    read ``keys_first`` by ``key``, its rows from ``by_key`` if given), or a function ``(start,
    stop) -> list`` that reads those rows itself."""
    number = page_number(request, param)
    offset = (number - 1) * per_page
    read = rows if callable(rows) else lambda start, stop: keys_first(rows, start, stop, key=key, by_key=by_key)
    rows = list(read(offset, offset + per_page + 1))
    return Page(
        object_list=rows[:per_page], number=number, per_page=per_page, has_next=len(rows) > per_page, param=param
    )


def keys_first(queryset: QuerySet, start: int, stop: int, key: str = "pk", by_key: QuerySet | None = None):
    """``queryset[start:stop]``, the same rows in the same order. On PostgreSQL, from
    ``KEYS_FIRST_FROM`` on, in one query that finds the slice's keys first (an InitPlan:
    ``id = ANY(ARRAY(SELECT id … ORDER BY … OFFSET … LIMIT …))``) and then reads those rows with
    everything the QuerySet selects — instead of building every skipped row in full.

    ``key``: the primary key, or another column that is unique among the QuerySet's rows (the
    caller's promise: e.g. the livestream of an organization's cooperations). Choose one that the
    index of the QuerySet's order holds, so the skipped rows are walked index-only: the primary
    key is not in every such index, and each skipped row would then be a read of the table.

    ``by_key``: the same rows as ``queryset``, filtered so as to be read by their keys (the deep page's
    rows are read from it; ``queryset`` itself otherwise): where ``queryset``'s filter has an index,
    a generic plan may read every row it selects and keep the page's (see
    ``CooperationQuerySet.of_organization_by_livestream``)."""
    connection = connections[queryset.db]
    if start < KEYS_FIRST_FROM or connection.vendor != "postgresql" or queryset.query.combinator:
        return queryset[start:stop]
    meta = queryset.model._meta
    field = meta.pk if key == "pk" else meta.get_field(key)
    sql, params = queryset.values_list(field.attname, flat=True)[start:stop].query.get_compiler(queryset.db).as_sql()
    quote = connection.ops.quote_name
    on_page = RawSQL(  # noqa: S611 - Django's own SQL and parameters
        f"{quote(meta.db_table)}.{quote(field.column)} = ANY(ARRAY(SELECT page.* FROM ({sql}) AS page))",  # noqa: S608
        params,
        output_field=models.BooleanField(),
    )
    return (queryset if by_key is None else by_key).filter(on_page)
