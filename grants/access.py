"""Every access decision of the portal: who may see what, right now.

Pure decisions, at most one query each, usable from views and templates. Views call these and
nothing else to decide; ``livestreams`` asks here instead of deciding by itself.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from portal.models import Membership, User

from .models import Grant, LivestreamAccessRequest, today


def _known_membership(user) -> tuple[bool, Membership | None]:
    """The user's membership if already loaded (no query), and whether it was."""
    if User.membership.is_cached(user):
        return True, user.membership_or_none
    return False, None


def can_view_creator_data(user, creator) -> bool:
    """The creator themself, or the main account of an organization whose grant is active today."""
    if user is None or not user.is_authenticated or creator is None:
        return False
    if creator.user_id == user.pk:
        return True
    known, membership = _known_membership(user)
    grants = Grant.objects.active_on(today()).filter(creator_id=creator.pk)
    if known:
        if membership is None or not membership.is_main:
            return False
        return grants.filter(organization_id=membership.organization_id).exists()
    return grants.held_by_main_account(user).exists()


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


def _own_livestream(user, livestream) -> bool | None:
    """True/False when the user's creator is already loaded (no query); None when unknown."""
    if User.creator.is_cached(user):
        creator = user.creator_or_none
        return creator is not None and creator.pk == livestream.creator_id
    return None


def _module_access(livestream, day) -> Q:
    """For ``User`` rows: an approved request of their organization, or an active grant to it."""
    approved = LivestreamAccessRequest.objects.approved().filter(
        livestream_id=livestream.pk, organization__memberships__user=OuterRef("pk")
    )
    granted = (
        Grant.objects.active_on(day)
        .filter(creator_id=livestream.creator_id)
        .filter(organization__memberships__user=OuterRef("pk"), organization__memberships__role=Membership.Role.MAIN)
    )
    return Q(Exists(approved)) | Q(Exists(granted))


def can_view_livestream_modules(user, livestream) -> bool:
    """The three modules: the creator; any member of an organization whose request was approved;
    the main account of an organization holding an active full-data grant from the creator."""
    if user is None or not user.is_authenticated or livestream is None:
        return False
    own = _own_livestream(user, livestream)
    if own:
        return True
    access = _module_access(livestream, today())
    if own is None:
        access |= Q(creator__pk=livestream.creator_id)
    return User.objects.filter(pk=user.pk).filter(access).exists()


def livestream_access(user, livestream) -> tuple[bool, bool]:
    """``(may_view_detail, may_view_modules)`` in one query.

    The detail page (basic data) is for the creator, members of an organization that cooperated in
    the livestream (its products were sold there), and anyone who may view the modules.
    """
    if user is None or not user.is_authenticated or livestream is None:
        return False, False
    if _own_livestream(user, livestream):
        return True, True
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            modules=Q(creator__pk=livestream.creator_id) | _module_access(livestream, today()),
            cooperating=Exists(livestream.cooperations.filter(organization__memberships__user=OuterRef("pk"))),
        )
        .values("modules", "cooperating")
        .first()
    )
    if row is None:
        return False, False
    return bool(row["modules"] or row["cooperating"]), bool(row["modules"])
