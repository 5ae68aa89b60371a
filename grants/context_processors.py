from .perspective import OWN
from .views import _pending_badge


def perspective(request):
    """The perspective (for the switcher and the banner) and, for a creator, the pending badge.

    The badge is lazy and capped ("999+"), so a page that does not render it does not query for it.
    The switcher's list of creators is not here: it is fetched when the menu is opened
    (``grants:perspective_menu``), so the pages of a main account do not pay for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"perspective": getattr(request, "perspective", OWN)}
    creator = user.creator_or_none
    if creator is not None:
        context["pending_request_count"] = _pending_badge(creator)
    return context
