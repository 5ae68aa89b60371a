"""Every access decision of the portal: who may see what, right now.

Pure decisions, at most one query each, usable from views and templates. Views call these and
nothing else to decide; ``livestreams`` asks here instead of deciding by itself.

The checks run on every request, so each query is written once with the ORM (from the QuerySet
methods that define the rules) and compiled to SQL the first time it runs; later calls bind their
values to that SQL and make their one round trip without building a QuerySet again (see
``portal.compiled.CompiledQuery``). The SQL, and so the index scans, are exactly the ORM's.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet, Value

from portal.compiled import CompiledQuery
from portal.models import Creator, Membership, User

from .models import Grant, LivestreamAccessRequest, today


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


def creators_viewable_by_grant(user, creator_ids) -> set[int]:
    """Which of ``creator_ids`` ``user`` may view the data of through a full-data grant active today:
    for a main account, the creators whose grant to its organization is active; else none. One query
    at most (none for anyone but a main account, or for no ids)."""
    creator_ids = set(creator_ids)
    if user is None or not user.is_authenticated or not creator_ids or not is_main_account(user):
        return set()
    return set(
        Grant.objects.active_on(today())
        .filter(organization_id=user.membership_or_none.organization_id, creator_id__in=creator_ids)
        .values_list("creator_id", flat=True)
    )


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


def can_view_livestream_modules(user, livestream) -> bool:
    """The three modules: the creator; any member of an organization whose request was approved;
    the main account of an organization holding an active full-data grant from the creator."""
    return livestream_access(user, livestream)[1]


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
