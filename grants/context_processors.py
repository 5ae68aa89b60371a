from django.db.models import QuerySet
from django.utils.functional import SimpleLazyObject

from notifications.context_processors import unread_label, unread_with_user
from notifications.models import Message

from . import access
from .models import GrantRequest, LivestreamAccessRequest
from .perspective import OWN
from .speedups import capped_counts, count_label


def shell_querysets(creator, user) -> dict[str, QuerySet]:
    """What the page shell counts, by its context name: a creator's two pending badges (livestream
    requests, 直播间数据管理; full-data and extension requests, 数据授权管理), newest first as the
    (creator, status, time) indexes the counts walk; and the bell, for a user loaded without it
    (``notifications.context_processors.unread_annotation``)."""
    querysets = {}
    if creator is not None:
        querysets["pending_request_count"] = (
            LivestreamAccessRequest.objects.for_creator(creator).pending().newest_first()
        )
        querysets["pending_grant_request_count"] = GrantRequest.objects.for_creator(creator).pending().newest_first()
    if unread_with_user(user) is None:
        querysets["unread_count"] = Message.objects.unread_for(user)
    return querysets


def shell_labels(counts: dict[str, int]) -> dict:
    """The shell's capped counts among ``counts`` as shown ("999+")."""
    return {
        name: unread_label(counts[name]) if name == "unread_count" else count_label(counts[name])
        for name in SHELL_COUNTS
        if name in counts
    }


def pending_badges(creator, user) -> dict[str, SimpleLazyObject]:
    """The shell's counts for a creator (on every page, ``shell_querysets``), capped like the tabs,
    in one query, and only when the page renders one of them (lazy)."""
    querysets = shell_querysets(creator, user)
    counted: dict = {}

    def count(name: str):
        if not counted:
            counted.update(shell_labels(capped_counts(querysets)))
        return counted[name]

    return {name: SimpleLazyObject(lambda name=name: count(name)) for name in querysets}


SHELL_COUNTS = ("pending_request_count", "pending_grant_request_count", "unread_count")


def perspective(request):
    """What the page shell shows of access: the user's party (``party_access``), the perspective
    (for the switcher and the banner) and, for a creator, the pending badges.

    The switcher's list of creators is not here: it is fetched when the menu is opened
    (``grants:perspective_menu``), so the pages of a main account do not pay for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    who = access.party(user)
    context = {"perspective": getattr(request, "perspective", OWN), "party_access": who}
    if who.manages_grants:
        context.update(pending_badges(who.creator, user))
    return context
