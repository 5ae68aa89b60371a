from django.utils.functional import SimpleLazyObject

from notifications.context_processors import unread_label, unread_with_user
from notifications.models import Message

from . import access
from .models import GrantRequest, LivestreamAccessRequest
from .perspective import OWN
from .speedups import capped_counts, count_label


def pending_badges(creator, user) -> dict[str, SimpleLazyObject]:
    """The navigation's two pending badges of a creator (on every page): livestream requests
    (直播间数据管理) and full-data/extension requests (数据授权管理), capped like the tabs ("999+"),
    in one query, and only when the page renders one of them (lazy). The bell's unread count comes
    with the user (``notifications.context_processors.unread_annotation``); where the user was
    loaded without it, the same query counts it too."""
    counted: dict[str, int] = {}
    names = SHELL_COUNTS if unread_with_user(user) is None else SHELL_COUNTS[:2]

    def count(name: str):
        if not counted:
            # newest first: the order of the (creator, status, time) indexes the counts walk
            querysets = {
                "pending_request_count": LivestreamAccessRequest.objects.for_creator(creator).pending().newest_first(),
                "pending_grant_request_count": GrantRequest.objects.for_creator(creator).pending().newest_first(),
                "unread_count": Message.objects.unread_for(user),
            }
            counted.update(capped_counts({name: querysets[name] for name in names}))
        return unread_label(counted[name]) if name == "unread_count" else count_label(counted[name])

    return {name: SimpleLazyObject(lambda name=name: count(name)) for name in names}


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
