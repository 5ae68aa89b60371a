"""Every access decision of the portal: who may see what, right now.

Pure decisions, at most one query each, usable from views and templates. Views call these and
nothing else to decide; ``livestreams`` asks here instead of deciding by itself.
"""

from __future__ import annotations

from portal.models import Membership, User

from .models import Grant, today


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
