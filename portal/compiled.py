"""Queries written with the ORM, compiled to SQL once, run many times.

The hottest queries of the portal (the user of every request, the access checks, the livestream of
every livestream page) are built with the ORM the first time they run, from the same QuerySet
methods as everything else, and compiled; later calls bind their values to that SQL and make their
one round trip without building and compiling a QuerySet again. The SQL, and so the index scans,
are exactly the ORM's; only the per-call Python work is gone.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import F, QuerySet
from django.db.models.query import get_related_populators


class CompiledQuery:
    """A query on ``model`` built by ``build(**values)`` with the ORM, compiled once per database.

    ``params`` names the values and their kinds (``"id"`` or ``"date"``). The first run builds the
    QuerySet with placeholder values no real call uses (ids below -2,000,000,000, dates in year 1),
    compiles it, and remembers which SQL parameter is which value; every other parameter (a
    constant such as ``'main'``) is kept as compiled. ``exists()`` answers whether the query has a
    row, ``count()`` how many it has, ``rows()`` returns the rows of a ``values_list()`` query,
    ``objects()`` the model instances of a model query (``select_related()`` included), made as
    ``QuerySet`` iteration makes them.
    """

    def __init__(
        self, model, build: Callable[..., QuerySet], *, wrap: Callable | None = None, using: str | None = None,
        **params: str,
    ):  # fmt: skip
        self.model = model
        self.build = build
        # ``wrap(sql, connection)``: a statement around the compiled query (its parameters first,
        # then the wrapper's own, given to ``rows(extra=…)``). ``using``: the database, instead of
        # the router's choice for a read.
        self.wrap = wrap
        self.using = using
        self.params = params
        self._compiled: dict[tuple[str, str], tuple[str, list, Any]] = {}
        self._converters: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _placeholders(self) -> dict[str, object]:
        values = {}
        for index, (name, kind) in enumerate(self.params.items()):
            values[name] = datetime.date(1, 1, index + 2) if kind == "date" else -2_000_000_001 - index
        return values

    def _compile(self, mode: str, alias: str) -> tuple[str, list, Any]:
        compiled = self._compiled.get((mode, alias))
        if compiled is not None:
            return compiled
        with self._lock:
            placeholders = self._placeholders()
            queryset = self.build(**placeholders)
            query = queryset.query.exists() if mode == "exists" else queryset.query
            compiler = query.get_compiler(alias)
            sql, params = compiler.as_sql()
            if mode == "count":
                sql = f"SELECT COUNT(*) FROM ({sql}) AS counted"  # noqa: S608 - SQL the ORM compiled
            ops = connections[alias].ops
            slot_of = {}
            for name, value in placeholders.items():
                slot_of[value] = name
                if isinstance(value, datetime.date):
                    slot_of[ops.adapt_datefield_value(value)] = name
            slots = [
                (True, slot_of[param]) if _hashable(param) and param in slot_of else (False, param) for param in params
            ]
            missing = set(self.params) - {value for named, value in slots if named}
            if missing:
                raise ValueError(f"compiled query does not use {sorted(missing)}")
            if self.wrap is not None:
                sql = self.wrap(sql, connections[alias])
            compiled = self._compiled[mode, alias] = (sql, slots, compiler)
        return compiled

    def _alias(self) -> str:
        return self.using or router.db_for_read(self.model) or "default"

    def bound(self, alias: str, mode: str = "rows", **values) -> list:
        """The compiled query's parameters with ``values`` bound: for a statement that holds its SQL
        (``sql(alias)``) inside its own."""
        _sql, slots, _compiler = self._compile(mode, alias)
        ops = connections[alias].ops
        params = []
        for named, value in slots:
            if named:
                value = values[value]
                if isinstance(value, datetime.date):
                    value = ops.adapt_datefield_value(value)
            params.append(value)
        return params

    def sql(self, alias: str, mode: str = "rows") -> str:
        return self._compile(mode, alias)[0]

    def _execute(self, mode: str, values: dict, extra=()):
        alias = self._alias()
        sql = self._compile(mode, alias)[0]
        params = self.bound(alias, mode, **values)
        params.extend(extra)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if mode in ("exists", "count") else cursor.fetchall()

    def exists(self, **values) -> bool:
        """Whether the query has a row (the SQL of ``QuerySet.exists()``)."""
        return self._execute("exists", values) is not None

    def count(self, **values) -> int:
        """How many rows the query has (``SELECT COUNT(*)`` around its SQL; a sliced query counts at
        most its slice)."""
        return self._execute("count", values)[0]

    def rows(self, *, extra=(), **values) -> list[tuple]:
        """Every row of a ``values_list()`` query (the checks' queries return one or two); ``extra``:
        the wrapper's parameters, after the query's."""
        return self._execute("rows", values, extra)

    def objects(self, **values) -> list:
        """The model instances of the query, with their ``select_related()`` objects: the rows
        through the compiler's converters, then ``Model.from_db()``, Django's related populators
        and the annotations, as ``ModelIterable`` does for a QuerySet."""
        return [instance for instance, _rest in self.objects_and_rest(**values)]

    def objects_and_rest(self, *, extra=(), **values) -> list[tuple]:
        """``(instance, rest)`` for each row of a statement that wraps the query (``wrap``) and returns
        more columns after the query's own: ``rest`` is those columns, as they came."""
        rows = self._execute("rows", values, extra)
        alias = self._alias()
        _sql, _slots, compiler = self._compile("rows", alias)
        select, klass_info = compiler.select, compiler.klass_info
        model = klass_info["model"]
        first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[first:last]]
        populators = get_related_populators(klass_info, select, alias)
        annotations = list(compiler.annotation_col_map.items())
        converters = self._converters.get(alias)
        if converters is None:  # as ``results_iter()`` finds them, once
            fields = [column[0] for column in select[: compiler.col_count]]
            converters = self._converters[alias] = compiler.get_converters(fields)
        count = compiler.col_count
        result = []
        for raw, row in zip(rows, compiler.apply_converters(rows, converters) if converters else rows, strict=True):
            instance = model.from_db(alias, names, row[first:last])
            for populator in populators:
                populator.populate(row, instance)
            for name, position in annotations:
                setattr(instance, name, row[position])
            result.append((instance, tuple(raw[count:])))
        return result


def compared_without_index(queryset: QuerySet, field: str, value) -> QuerySet:
    """``queryset.filter(<field>=value)`` with the column compared as an expression (``field + 0``)
    that no index serves. With prepared statements PostgreSQL plans a statement once for every
    value, estimating each to select the average few rows; for a party holding thousands, a plan by
    the party's index reads them all to keep a page's few. Written this way where the statement
    also names the rows it wants by another indexed column (a page of livestreams), so every plan
    goes by those (docs/performance.md, items 25 and 26)."""
    name = f"_{field}_unindexed"
    return queryset.alias(**{name: F(field) + 0}).filter(**{name: value})


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
