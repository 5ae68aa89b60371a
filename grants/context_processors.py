from django.utils.functional import SimpleLazyObject

from . import access
from .models import LivestreamAccessRequest
from .perspective import OWN
from .speedups import capped_counts, count_label


def pending_badge(creator) -> SimpleLazyObject:
    """The navigation's pending-request badge (on every page of a creator), capped like the tabs
    ("999+"); lazy, so a page that does not render it does not query for it."""
    pending = LivestreamAccessRequest.objects.for_creator(creator).pending()
    return SimpleLazyObject(lambda: count_label(capped_counts({"pending": pending})["pending"]))


def perspective(request):
    """What the page shell shows of access: the user's party (``party_access``), the perspective
    (for the switcher and the banner) and, for a creator, the pending badge.

    The switcher's list of creators is not here: it is fetched when the menu is opened
    (``grants:perspective_menu``), so the pages of a main account do not pay for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    who = access.party(user)
    context = {"perspective": getattr(request, "perspective", OWN), "party_access": who}
    if who.manages_grants:
        context["pending_request_count"] = pending_badge(who.creator)
    return context
