"""The grants app's query speed-ups, in one place, each one proven equal to the plain ORM.

Every function here answers a question that a plain QuerySet answers too; it only answers it with
fewer rows read or less Python per call. ``grants/tests/test_speedups.py`` compares each with the
plain path on random data (Hypothesis), on SQLite and on PostgreSQL:

- ``capped_counts``: several ``min(count(), cap)`` in one query, each stopping after ``cap`` rows.
- ``nearest_expiry_rows``: a page of ``nearest_expiry_first()`` read from three index ranges.
- ``ACTIVE_GRANT`` / ``ACTIVE_GRANT_OF_MAIN_ACCOUNT`` / ``LIVESTREAM_ACCESS*``: the access checks'
  queries, compiled once (``portal.compiled.CompiledQuery``); ``grants.access`` runs them.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.db import connections, models
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.expressions import RawSQL

from portal.compiled import CompiledQuery
from portal.models import Creator, Membership, Organization, User

from . import access_log
from .models import PART_BITS, Delegation, Grant, LivestreamAccessRequest

# Status tabs show exact counts up to COUNT_CAP - 1 and "999+" beyond: each count reads at most
# COUNT_CAP index entries, so a party with 100,000 grants costs what one with 1,000 does.
COUNT_CAP = 1000


def capped_counts(querysets: dict[str, QuerySet], cap: int | None = None) -> dict[str, int]:
    """``{name: min(qs.count(), cap)}`` for each queryset (``cap``: COUNT_CAP unless given), in one
    query: ``SELECT (SELECT COUNT(*) FROM (… LIMIT cap)), …``. Each subquery stops after ``cap``
    rows, so the cost is bounded by the cap.

    A queryset's explicit order (``order_by()``) is kept, the rows counted unordered otherwise:
    ordered as an index is, the count reads its range in that order, and the planner takes that
    index (an index-only scan where it holds every column read) instead of a sequential scan that
    it estimates will find ``cap`` rows soon — which it prefers when the party holds much of the
    table, or when the visibility map is not set."""
    if not querysets:
        return {}
    cap = COUNT_CAP if cap is None else cap
    parts, params = [], []
    using = None
    for queryset in querysets.values():
        using = queryset.db
        rows = queryset if queryset.query.order_by else queryset.order_by()
        sql, part_params = rows.values("pk")[:cap].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped_{len(parts)})")  # noqa: S608 - SQL the ORM compiled
        params.extend(part_params)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip(querysets, (int(value) for value in row), strict=True))


def count_label(count: int, cap: int | None = None) -> int | str:
    """A capped count as shown: exact below the cap, "999+" from it."""
    cap = COUNT_CAP if cap is None else cap
    return f"{cap - 1}+" if count >= cap else count


def nearest_expiry_rows(grants: QuerySet, day: datetime.date, start: int, stop: int) -> list[Grant]:
    """Rows ``[start, stop)`` of ``grants.nearest_expiry_first(day)``, equal to
    ``list(grants.nearest_expiry_first(day))[start:stop]``, in one query.

    On PostgreSQL a UNION ALL of three ordered index range scans of the keys only, each stopping
    after ``stop`` rows, merged by a small sort, inside the query that reads the page's rows (so
    what the rows carry besides their keys is computed for the page alone), instead of a sort of
    the whole list: the order splits by ``ends_on``
    against the day: live grants (not revoked, ``ends_on`` >= day) first, ascending; then the dead
    ones descending, which are the revoked grants whose ``ends_on`` >= day followed by every grant
    whose ``ends_on`` < day. Each part is one range of a (party, ends_on) index (``grant_*_list``,
    ``grant_*_revoked``). Elsewhere (SQLite cannot order the parts of a compound query) the plain
    slice.
    """
    if stop <= start:
        return []
    if not connections[grants.db].features.supports_slicing_ordering_in_compound:
        return list(grants.nearest_expiry_first(day)[start:stop])
    base = grants.order_by()
    date = models.DateField()

    def part(condition: Q, rank: int, ascending: bool):
        keys = {
            "_rank": Value(rank, output_field=models.IntegerField()),
            "_end_up": F("ends_on") if ascending else Value(None, output_field=date),
            "_end_down": Value(None, output_field=date) if ascending else F("ends_on"),
        }
        order = ("ends_on", "-pk") if ascending else ("-ends_on", "-pk")
        # Only the keys: what the list's rows show (their annotations, e.g. the idle flag's EXISTS)
        # is computed below for the page's rows, not for the ``stop`` rows each part reads.
        keys_only = base.filter(condition).annotate(**keys).order_by(*order)
        return keys_only.values("pk", "_rank", "_end_up", "_end_down")[:stop]

    live = part(Q(revoked_at__isnull=True, ends_on__gte=day), 0, True)
    revoked_live = part(Q(revoked_at__isnull=False, ends_on__gte=day), 1, False)
    ended = part(Q(ends_on__lt=day), 1, False)
    merged = live.union(revoked_live, ended, all=True).order_by(
        "_rank", F("_end_up").asc(nulls_last=True), F("_end_down").desc(nulls_last=True), "-pk"
    )
    sql, params = merged[start:stop].query.get_compiler(grants.db).as_sql()
    # Django's own SQL for the page's keys (its parameters bound as usual): the ids, in a subquery.
    # ``= ANY(ARRAY(…))``: the page's ids are found first (an InitPlan), then its rows by primary key
    # (``IN (subquery)`` let the planner walk a large party's every grant against a hashed subplan).
    table = connections[grants.db].ops.quote_name(grants.model._meta.db_table)
    on_page = RawSQL(  # noqa: S611 - Django's own SQL and parameters
        f'{table}."id" = ANY(ARRAY(SELECT nearest_page."pk" FROM ({sql}) AS nearest_page))',  # noqa: S608
        params,
        output_field=models.BooleanField(),
    )
    return list(grants.filter(on_page).nearest_expiry_first(day))


# --- the access checks' queries, compiled once ---------------------------------------------------

ACTIVE_GRANT = CompiledQuery(
    Grant,
    lambda creator, organization, day: (
        Grant.objects.active_on(day).filter(creator_id=creator, organization_id=organization).select_related("creator")
    ),
    creator="id",
    organization="id",
    day="date",
)
"""The grant (with its creator) that is active on ``day`` for (creator, organization)."""

ACTIVE_GRANT_OF_MAIN_ACCOUNT = CompiledQuery(
    Grant,
    lambda creator, user, day: (
        Grant.objects.active_on(day)
        .filter(creator_id=creator)
        .held_by_main_account(User(pk=user))
        .select_related("creator")
    ),
    creator="id",
    user="id",
    day="date",
)
"""The same, for the organization whose main account is ``user`` (when the user's membership is
not loaded: a semi-join on the membership table instead of a query for it first)."""


# A delegation found with its grant travels as one integer, ``code = id * CODE + scope`` (its id and
# a PART_BITS mask): one correlated subquery instead of one per column, which PostgreSQL plans in a
# fraction of the time (planning, not execution, is most of an access check's cost).
CODE = 16


def _open_delegation_code(user, day, shared: bool = False):
    """A correlated subquery on the grant row outside: the code of ``user``'s delegation of it not
    ended nor past its end on ``day`` (at most one: ``services.delegate`` refuses a second while one
    is open); its own scope, or (``shared``) the part of it the grant's scope covers. Driven by the
    grant (the ``delegation_access_check`` index: grant, sub-account, end), never by the
    sub-account, which may hold thousands."""
    scope = F("scope").bitand(OuterRef("scope")) if shared else F("scope")
    return Subquery(
        Delegation.objects.filter(grant_id=OuterRef("pk"), sub_account_id=user, ended_at__isnull=True, ends_on__gte=day)
        .order_by("-pk")
        .annotate(code=F("pk") * CODE + scope)
        .values("code")[:1],
        output_field=models.BigIntegerField(),
    )


def _open_delegation_end(user, day):
    return Subquery(
        Delegation.objects.filter(grant_id=OuterRef("pk"), sub_account_id=user, ended_at__isnull=True, ends_on__gte=day)
        .order_by("-pk")
        .values("ends_on")[:1]
    )


ACTIVE_GRANT_OF_MEMBER = CompiledQuery(
    Grant,
    lambda creator, user, day: (
        Grant.objects.active_on(day)
        .filter(creator_id=creator)
        .filter(organization_id__in=Membership.objects.filter(user_id=user).values("organization_id"))
        .annotate(
            held_as_main=Exists(
                Membership.objects.filter(
                    user_id=user, role=Membership.Role.MAIN, organization_id=OuterRef("organization_id")
                )
            ),
            delegation_code=_open_delegation_code(user, day),
            delegation_ends_on=_open_delegation_end(user, day),
        )
        .select_related("creator")
    ),
    creator="id",
    user="id",
    day="date",
)
"""The grant (with its creator) active on ``day`` from ``creator`` to the organization ``user`` is a
member of (when the user's membership is not loaded), with whether ``user`` is its main account and,
for a sub-account, its open delegation of the grant (``delegation_code``, ``delegation_ends_on``):
whether that delegation is effective (the grant allows delegation, the scopes meet) is read from
these columns by ``grants.access``."""

DELEGATED_GRANT = CompiledQuery(
    Grant,
    lambda creator, user, organization, day: (
        Grant.objects.active_on(day)
        .filter(creator_id=creator, organization_id=organization)
        .annotate(delegation_code=_open_delegation_code(user, day), delegation_ends_on=_open_delegation_end(user, day))
        .select_related("creator")
    ),
    creator="id",
    user="id",
    organization="id",
    day="date",
)
"""For a sub-account whose membership (``organization``) is loaded: the grant active on ``day`` from
``creator`` to its organization, with ``user``'s open delegation of it, as above."""


def delegation_of(grant: Grant, user) -> Delegation | None:
    """The delegation found with ``grant`` by ``ACTIVE_GRANT_OF_MEMBER`` or ``DELEGATED_GRANT``
    (from its columns), or None."""
    if grant.delegation_code is None:
        return None
    pk, scope = divmod(grant.delegation_code, CODE)
    return Delegation(pk=pk, grant=grant, sub_account_id=user.pk, scope=scope, ends_on=grant.delegation_ends_on)


def _member_answers(user_id, livestream_id, creator_id, day) -> dict:
    """For a ``Membership`` row: the id of its organization's approved request for the livestream;
    the full-data grant from the creator active on ``day``: for the main account its code (``id *
    CODE + scope``), for a sub-account the code of its open delegation of that grant if the grant
    allows delegation (``id * CODE + the scope both share``, SPEC §12); and whether the organization
    cooperated in the livestream (its products sold there: the ``cooperations`` relation of the
    organization, by name; grants imports nothing of livestreams)."""
    organization = OuterRef("organization_id")
    approved = LivestreamAccessRequest.objects.approved().filter(
        livestream_id=livestream_id, organization_id=organization
    )
    granted = Grant.objects.active_on(day).filter(creator_id=creator_id, organization_id=organization)
    delegated = granted.filter(delegation_allowed=True).annotate(code=_open_delegation_code(user_id, day, shared=True))
    cooperated = Organization.objects.filter(pk=organization, cooperations__livestream_id=livestream_id)
    return {
        "owner": Value(False),
        "request_id": Subquery(approved.values("pk")[:1]),
        "grant_code": Case(
            When(
                role=Membership.Role.MAIN,
                then=Subquery(granted.annotate(code=F("pk") * CODE + F("scope")).values("code")[:1]),
            ),
            When(role=Membership.Role.SUB, then=Subquery(delegated.values("code")[:1])),
            output_field=models.BigIntegerField(),
        ),
        "cooperating": Exists(cooperated),
        "main": Case(When(role=Membership.Role.MAIN, then=Value(True)), default=Value(False)),
    }


ANSWER_COLUMNS = ("owner", "request_id", "grant_code", "cooperating", "main")


# Rooted at the user's one membership, so the query joins nothing: PostgreSQL plans it in a fraction
# of the time a User-rooted query with a subquery per rule takes.
def _member_answer_rows(user, livestream, creator, day, *more: str, **annotations):
    """The member's answer row (``ANSWER_COLUMNS``, then ``more`` of the membership or of
    ``annotations``)."""
    return (
        Membership.objects.filter(user_id=user)
        .order_by()
        .annotate(**_member_answers(user, livestream, creator, day), **annotations)
        .values_list(*ANSWER_COLUMNS, *more)
    )


LIVESTREAM_ACCESS_OF_MEMBER = CompiledQuery(
    Membership,
    _member_answer_rows,
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
"""The member's answers for a livestream: one row (``ANSWER_COLUMNS``), none for a non-member."""


def _member_answer_and_organization(user, livestream, creator, day):
    return _member_answer_rows(user, livestream, creator, day, "organization_id")


# The same answer, with the view of a data page recorded in the same statement (PostgreSQL): the
# data-access log's upsert as a data-modifying WITH (``access_log.livestream_answer_recorded``);
# its transaction committed asynchronously, or, inside a caller's transaction, with the caller's.
LIVESTREAM_ACCESS_RECORDED = {
    asynchronous: CompiledQuery(
        Membership,
        _member_answer_and_organization,
        wrap=access_log.livestream_answer_recorded(
            code=CODE, modules_bit=PART_BITS["modules"], asynchronous=asynchronous
        ),
        using=access_log.DATABASE,
        user="id",
        livestream="id",
        creator="id",
        day="date",
    )
    for asynchronous in (True, False)
}
"""Each: the member's answer (``ANSWER_COLUMNS``) and what was recorded (grant, request,
delegation: ``access_log.recorded``); no row for a non-member."""


def _livestream_creator(livestream_model) -> RawSQL:
    """The livestream's creator, from its row in the statement (``access_log.ROW``; grants imports
    nothing of livestreams: the model is the caller's)."""
    creator = connections[access_log.DATABASE].ops.quote_name(livestream_model._meta.get_field("creator").column)
    sql = f"(SELECT {creator} FROM {access_log.ROW})"  # noqa: S608 - our own identifiers
    return RawSQL(sql, (), output_field=models.BigIntegerField())  # noqa: S611


@dataclasses.dataclass(frozen=True)
class RowAccessRecorded:
    """A livestream's row query with the member's answer and the view recorded in its statement."""

    answer: CompiledQuery  # the answer's part, bound into the statement (``answer.bound``)
    statements: dict[bool, CompiledQuery]  # the statement, by whether it commits asynchronously


_ROW_RECORDED: dict[CompiledQuery, RowAccessRecorded] = {}


def livestream_row_access_recorded(row_query: CompiledQuery) -> RowAccessRecorded:
    """``row_query`` (the livestream's row by id, ``livestream="id"``) with the member's answer and
    the view recorded in the same statement (``access_log.livestream_row_answer_recorded``); made
    once per row query."""
    found = _ROW_RECORDED.get(row_query)
    if found is not None:
        return found
    model = row_query.model

    def answer(user, livestream, day):
        creator = _livestream_creator(model)
        return _member_answer_rows(user, livestream, creator, day, "organization_id", "creator_id", creator_id=creator)

    answer_query = CompiledQuery(Membership, answer, using=access_log.DATABASE, user="id", livestream="id", day="date")
    statements = {
        asynchronous: CompiledQuery(
            model,
            row_query.build,
            wrap=access_log.livestream_row_answer_recorded(
                answer=answer_query, code=CODE, modules_bit=PART_BITS["modules"], asynchronous=asynchronous
            ),
            using=access_log.DATABASE,
            **row_query.params,
        )
        for asynchronous in (True, False)
    }
    found = _ROW_RECORDED[row_query] = RowAccessRecorded(answer=answer_query, statements=statements)
    return found


# When it is not known without a query whether the user is the livestream's creator (neither the
# user's nor the livestream's creator is loaded), a UNION ALL adds that one-row check.
LIVESTREAM_ACCESS_OF_ANYONE = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: (
        Creator.objects.filter(pk=creator, user_id=user)
        .order_by()
        .annotate(
            owner=Value(True),
            request_id=Value(None, output_field=models.BigIntegerField()),
            grant_code=Value(None, output_field=models.BigIntegerField()),
            cooperating=Value(False),
            main=Value(False),
        )
        .values_list(*ANSWER_COLUMNS)
        .union(_member_answer_rows(user, livestream, creator, day), all=True)
    ),  # fmt: skip
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
