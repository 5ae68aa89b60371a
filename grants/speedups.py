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

import datetime

from django.db import connections, models
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When

from portal.compiled import CompiledQuery
from portal.models import Creator, Membership, Organization, User

from .models import Delegation, Grant, LivestreamAccessRequest

# Status tabs show exact counts up to COUNT_CAP - 1 and "999+" beyond: each count reads at most
# COUNT_CAP index entries, so a party with 100,000 grants costs what one with 1,000 does.
COUNT_CAP = 1000


def capped_counts(querysets: dict[str, QuerySet], cap: int | None = None) -> dict[str, int]:
    """``{name: min(qs.count(), cap)}`` for each queryset (``cap``: COUNT_CAP unless given), in one
    query: ``SELECT (SELECT COUNT(*) FROM (… LIMIT cap)), …``. Each subquery stops after ``cap``
    rows, so the cost is bounded by the cap."""
    cap = COUNT_CAP if cap is None else cap
    parts, params = [], []
    using = None
    for queryset in querysets.values():
        using = queryset.db
        sql, part_params = queryset.order_by().values("pk")[:cap].query.sql_with_params()
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

    On PostgreSQL a UNION ALL of three ordered index range scans, each stopping after ``stop`` rows,
    merged by a small sort, instead of a sort of the whole list: the order splits by ``ends_on``
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
        return base.filter(condition).annotate(**keys).order_by(*order)[:stop]

    live = part(Q(revoked_at__isnull=True, ends_on__gte=day), 0, True)
    revoked_live = part(Q(revoked_at__isnull=False, ends_on__gte=day), 1, False)
    ended = part(Q(ends_on__lt=day), 1, False)
    merged = live.union(revoked_live, ended, all=True).order_by(
        "_rank", F("_end_up").asc(nulls_last=True), F("_end_down").desc(nulls_last=True), "-pk"
    )
    return list(merged[start:stop])


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


def _open_delegations(grant, user, day):
    """The delegations of ``grant`` to ``user`` not ended and not past their end on ``day`` (at most
    one: ``services.delegate`` refuses a second while one is open)."""
    return Delegation.objects.filter(grant_id=grant, sub_account_id=user, ended_at__isnull=True, ends_on__gte=day)


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
            delegation_id=Subquery(_open_delegations(OuterRef("pk"), user, day).order_by("-pk").values("pk")[:1]),
            delegation_scope=Subquery(_open_delegations(OuterRef("pk"), user, day).order_by("-pk").values("scope")[:1]),
            delegation_ends_on=Subquery(
                _open_delegations(OuterRef("pk"), user, day).order_by("-pk").values("ends_on")[:1]
            ),
        )
        .select_related("creator")
    ),
    creator="id",
    user="id",
    day="date",
)
"""The grant (with its creator) active on ``day`` from ``creator`` to the organization ``user`` is a
member of (when the user's membership is not loaded), with whether ``user`` is its main account and,
for a sub-account, its open delegation of the grant (id, scope, end): whether that delegation is
effective (the grant allows delegation, the scopes meet) is read from these columns by
``grants.access``."""


def delegation_of(grant: Grant, user) -> Delegation:
    """The delegation ``ACTIVE_GRANT_OF_MEMBER`` found with ``grant`` (from its columns)."""
    return Delegation(
        pk=grant.delegation_id, grant=grant, sub_account_id=user.pk, scope=grant.delegation_scope,
        ends_on=grant.delegation_ends_on,
    )  # fmt: skip


DELEGATION_OF_SUB_ACCOUNT = CompiledQuery(
    Delegation,
    lambda creator, user, organization, day: (
        Delegation.objects.filter(
            sub_account_id=user,
            ended_at__isnull=True,
            ends_on__gte=day,
            grant__creator_id=creator,
            grant__organization_id=organization,
            grant__revoked_at__isnull=True,
            grant__starts_on__lte=day,
            grant__ends_on__gte=day,
            grant__delegation_allowed=True,
        )
        .order_by("-pk")
        .select_related("grant__creator")
    ),  # fmt: skip
    creator="id",
    user="id",
    organization="id",
    day="date",
)
"""The delegation of the grant active on ``day`` from ``creator`` to ``organization`` (the
sub-account's, known) that ``user`` holds, not ended or past its end, with its grant and creator
(the scopes' meeting is read from the two rows by ``grants.access``)."""


def _member_answers(user_id, livestream_id, creator_id, day) -> dict:
    """For a ``Membership`` row: the id of its organization's approved request for the livestream;
    for the main account, the full-data grant from the creator active on ``day`` and its scope; for
    a sub-account, its delegation of such a grant effective on ``day``, that grant and the scope
    they share (SPEC §12); and whether the organization cooperated in the livestream (its products
    sold there: the ``cooperations`` relation of the organization, by name; grants imports nothing
    of livestreams)."""
    organization = OuterRef("organization_id")
    approved = LivestreamAccessRequest.objects.approved().filter(
        livestream_id=livestream_id, organization_id=organization
    )
    granted = Grant.objects.active_on(day).filter(creator_id=creator_id, organization_id=organization)
    delegated = (
        Delegation.objects.effective_on(day)
        .filter(sub_account_id=user_id, grant__creator_id=creator_id)
        .annotate(shared_scope=F("scope").bitand(F("grant__scope")))
        .order_by("-pk")
    )
    cooperated = Organization.objects.filter(pk=organization, cooperations__livestream_id=livestream_id)
    main, sub = Q(role=Membership.Role.MAIN), Q(role=Membership.Role.SUB)
    return {
        "owner": Value(False),
        "request_id": Subquery(approved.values("pk")[:1]),
        "grant_id": Case(
            When(main, then=Subquery(granted.values("pk")[:1])),
            When(sub, then=Subquery(delegated.values("grant_id")[:1])),
            output_field=models.BigIntegerField(),
        ),
        "cooperating": Exists(cooperated),
        "scope": Case(
            When(main, then=Subquery(granted.values("scope")[:1])),
            When(sub, then=Subquery(delegated.values("shared_scope")[:1])),
            output_field=models.IntegerField(),
        ),
        "delegation_id": Case(
            When(sub, then=Subquery(delegated.values("pk")[:1])), output_field=models.BigIntegerField()
        ),
    }


ANSWER_COLUMNS = ("owner", "request_id", "grant_id", "cooperating", "scope", "delegation_id")

# Rooted at the user's one membership, so the query joins nothing: PostgreSQL plans it in a fraction
# of the time a User-rooted query with a subquery per rule takes.
LIVESTREAM_ACCESS_OF_MEMBER = CompiledQuery(
    Membership,
    lambda user, livestream, creator, day: (
        Membership.objects.filter(user_id=user)
        .order_by()
        .annotate(**_member_answers(user, livestream, creator, day))
        .values_list(*ANSWER_COLUMNS)
    ),  # fmt: skip
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
"""The member's answers for a livestream: one row (``ANSWER_COLUMNS``), none for a non-member."""

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
            grant_id=Value(None, output_field=models.BigIntegerField()),
            cooperating=Value(False),
            scope=Value(None, output_field=models.IntegerField()),
            delegation_id=Value(None, output_field=models.BigIntegerField()),
        )
        .values_list(*ANSWER_COLUMNS)
        .union(LIVESTREAM_ACCESS_OF_MEMBER.build(user, livestream, creator, day), all=True)
    ),  # fmt: skip
    user="id",
    livestream="id",
    creator="id",
    day="date",
)
