from django.utils.functional import SimpleLazyObject

from .models import Grant
from .perspective import OWN
from .views import _pending_badge


def perspective(request):
    """The perspective (for the switcher and banner) and the creators a main account can switch to.

    The switcher's options and the pending-request badge are lazy: a page that does not render
    them does not query for them.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"perspective": getattr(request, "perspective", OWN)}
    creator = user.creator_or_none
    if creator is not None:
        # Capped like the request tabs ("999+"): counting a busy creator's pending requests in full
        # read ~12,000 rows on every page of theirs. One definition, the list views' own.
        context["pending_request_count"] = _pending_badge(creator)
    membership = user.membership_or_none
    if membership is not None and membership.is_main:
        context["perspective_options"] = SimpleLazyObject(
            lambda: list(
                Grant.objects.for_organization(membership.organization_id)
                .latest_per_pair()
                .active_on()
                .select_related("creator")
                .order_by("ends_on", "pk")[:12]
            )
        )
    return context
