"""Every access decision of the portal: who may see what, right now.

Pure decisions, at most one query each, usable from views and templates. Views call these and
nothing else to decide; ``livestreams`` asks here instead of deciding by itself.

The checks run on every request, so each query is written once with the ORM (from the QuerySet
methods that define the rules) and compiled to SQL the first time it runs; later calls bind their
values to that SQL and make their one round trip without building a QuerySet again (see
``CompiledQuery``). The SQL, and so the index scans, are exactly the ORM's.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable

from django.apps import apps
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet, Value

from portal.models import Creator, Membership, User

from .models import Grant, LivestreamAccessRequest, today


class CompiledQuery:
    """A query on ``model`` built by ``build(**values)`` with the ORM, compiled once per database.

    ``params`` names the values and their kinds (``"id"`` or ``"date"``). The first run builds the
    QuerySet with placeholder values no real call uses (ids below -2,000,000,000, dates in year 1),
    compiles it, and remembers which SQL parameter is which value; every other parameter (a
    constant such as ``'main'``) is kept as compiled. ``exists()`` answers whether the query has a
    row, ``rows()`` returns the rows of a ``values_list()`` query.
    """

    def __init__(self, model, build: Callable[..., QuerySet], **params: str):
        self.model = model
        self.build = build
        self.params = params
        self._compiled: dict[tuple[str, str], tuple[str, list]] = {}
        self._lock = threading.Lock()

    def _placeholders(self) -> dict[str, object]:
        values = {}
        for index, (name, kind) in enumerate(self.params.items()):
            values[name] = datetime.date(1, 1, index + 2) if kind == "date" else -2_000_000_001 - index
        return values

    def _compile(self, mode: str, alias: str) -> tuple[str, list]:
        compiled = self._compiled.get((mode, alias))
        if compiled is not None:
            return compiled
        with self._lock:
            placeholders = self._placeholders()
            queryset = self.build(**placeholders)
            query = queryset.query.exists() if mode == "exists" else queryset.query
            sql, params = query.get_compiler(alias).as_sql()
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
            compiled = self._compiled[mode, alias] = (sql, slots)
        return compiled

    def _execute(self, mode: str, values: dict):
        alias = router.db_for_read(self.model) or "default"
        sql, slots = self._compile(mode, alias)
        ops = connections[alias].ops
        params = []
        for named, value in slots:
            if named:
                value = values[value]
                if isinstance(value, datetime.date):
                    value = ops.adapt_datefield_value(value)
            params.append(value)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if mode == "exists" else cursor.fetchall()

    def exists(self, **values) -> bool:
        """Whether the query has a row (the SQL of ``QuerySet.exists()``)."""
        return self._execute("exists", values) is not None

    def rows(self, **values) -> list[tuple]:
        """Every row of a ``values_list()`` query (the checks' queries return one or two)."""
        return self._execute("rows", values)


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _known_membership(user) -> tuple[bool, Membership | None]:
    """The user's membership if already loaded (no query), and whether it was."""
    if User.membership.is_cached(user):
        return True, user.membership_or_none
    return False, None


# --- full-data grants -------------------------------------------------------------------------------

_GRANT_ACTIVE_FOR_ORGANIZATION = CompiledQuery(
    Grant,
    lambda creator, organization, day: Grant.objects.active_on(day).filter(
        creator_id=creator, organization_id=organization
    ),
    creator="id",
    organization="id",
    day="date",
)
_GRANT_ACTIVE_FOR_MAIN_ACCOUNT = CompiledQuery(
    Grant,
    lambda creator, user, day: (
        Grant.objects.active_on(day).filter(creator_id=creator).held_by_main_account(User(pk=user))
    ),
    creator="id",
    user="id",
    day="date",
)


def can_view_creator_data(user, creator) -> bool:
    """The creator themself, or the main account of an organization whose grant is active today."""
    if user is None or not user.is_authenticated or creator is None:
        return False
    if creator.user_id == user.pk:
        return True
    known, membership = _known_membership(user)
    if known:
        if membership is None or not membership.is_main:
            return False
        return _GRANT_ACTIVE_FOR_ORGANIZATION.exists(
            creator=creator.pk, organization=membership.organization_id, day=today()
        )
    return _GRANT_ACTIVE_FOR_MAIN_ACCOUNT.exists(creator=creator.pk, user=user.pk, day=today())


def active_grant_for_main_account(user, creator_id: int) -> Grant | None:
    """The grant, active today, that lets ``user`` (a main account) view ``creator_id``'s data.

    One query; the grant comes with its creator (the perspective banner names both).
    """
    if user is None or not user.is_authenticated:
        return None
    known, membership = _known_membership(user)
    grants = Grant.objects.active_on(today()).filter(creator_id=creator_id).select_related("creator")
    if known:
        if membership is None or not membership.is_main:
            return None
        return grants.filter(organization_id=membership.organization_id).first()
    return grants.held_by_main_account(user).first()


def is_main_account(user) -> bool:
    membership = user.membership_or_none if user.is_authenticated else None
    return membership is not None and membership.is_main


# --- single livestreams -------------------------------------------------------------------------------


def _own_livestream(user, livestream) -> bool | None:
    """True/False without a query when the user's creator or the livestream's creator is loaded."""
    if User.creator.is_cached(user):
        creator = user.creator_or_none
        return creator is not None and creator.pk == livestream.creator_id
    creator_field = livestream._meta.get_field("creator")
    if creator_field.is_cached(livestream):
        return livestream.creator.user_id == user.pk
    return None


def _member_module_access(livestream_id, creator_id, day) -> Q:
    """For ``Membership`` rows: an approved request of the organization for the livestream, or, for
    the organization's main account, a full-data grant from the creator active on ``day``."""
    approved = LivestreamAccessRequest.objects.approved().filter(
        livestream_id=livestream_id, organization_id=OuterRef("organization_id")
    )
    granted = Grant.objects.active_on(day).filter(creator_id=creator_id, organization_id=OuterRef("organization_id"))
    return Q(Exists(approved)) | (Q(role=Membership.Role.MAIN) & Q(Exists(granted)))


def _cooperating(livestream_id, organization_ref: OuterRef) -> Exists:
    cooperation = apps.get_model("livestreams", "Cooperation")
    return Exists(cooperation.objects.filter(livestream_id=livestream_id, organization_id=organization_ref))


def _is_creator(user, creator) -> QuerySet:
    """The user is the livestream's creator: one row from the creator table, else none."""
    return Creator.objects.filter(pk=creator, user_id=user)


# Rooted at the user's one membership, so the query joins nothing: PostgreSQL plans it in a fraction
# of the time a User-rooted query with a subquery per rule takes. When it is not known without a
# query whether the user is the livestream's creator (its creator is not loaded), a UNION ALL adds
# that one-row check.
_MODULES_FOR_MEMBER = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: Membership.objects.filter(user_id=user).filter(
        _member_module_access(livestream, creator, day)
    ),
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
_MODULES_FOR_ANYONE = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: (
        _is_creator(user, creator)
        .values_list("pk")
        .union(
            Membership.objects.filter(user_id=user)
            .filter(_member_module_access(livestream, creator, day))
            .values_list("pk"),
            all=True,
        )
    ),
    user="id",
    livestream="id",
    creator="id",
    day="date",
)


def can_view_livestream_modules(user, livestream) -> bool:
    """The three modules: the creator; any member of an organization whose request was approved;
    the main account of an organization holding an active full-data grant from the creator."""
    if user is None or not user.is_authenticated or livestream is None:
        return False
    own = _own_livestream(user, livestream)
    if own:
        return True
    check = _MODULES_FOR_ANYONE if own is None else _MODULES_FOR_MEMBER
    return check.exists(user=user.pk, livestream=livestream.pk, creator=livestream.creator_id, day=today())


_LIVESTREAM_ACCESS_FOR_MEMBER = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: (
        Membership.objects.filter(user_id=user)
        .annotate(
            modules=_member_module_access(livestream, creator, day),
            cooperating=_cooperating(livestream, OuterRef("organization_id")),
        )
        .values_list("modules", "cooperating")
    ),
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
_LIVESTREAM_ACCESS_FOR_ANYONE = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: (
        _is_creator(user, creator)
        .annotate(modules=Value(True), cooperating=Value(True))
        .values_list("modules", "cooperating")
        .union(_LIVESTREAM_ACCESS_FOR_MEMBER.build(user, livestream, creator, day), all=True)
    ),
    user="id",
    livestream="id",
    creator="id",
    day="date",
)


def livestream_access(user, livestream) -> tuple[bool, bool]:
    """``(may_view_detail, may_view_modules)`` in one query.

    The detail page (basic data) is for the creator, members of an organization that cooperated in
    the livestream (its products were sold there), and anyone who may view the modules.
    """
    if user is None or not user.is_authenticated or livestream is None:
        return False, False
    own = _own_livestream(user, livestream)
    if own:
        return True, True
    check = _LIVESTREAM_ACCESS_FOR_ANYONE if own is None else _LIVESTREAM_ACCESS_FOR_MEMBER
    rows = check.rows(user=user.pk, livestream=livestream.pk, creator=livestream.creator_id, day=today())
    modules = any(row[0] for row in rows)
    cooperating = any(row[1] for row in rows)
    return modules or cooperating, modules
