from django.utils.functional import SimpleLazyObject

from . import models
from .models import Message


def unread_label(count: int, cap: int | None = None) -> int | str:
    """A capped unread count as shown: exact below the cap, "999+" from it."""
    cap = models.UNREAD_CAP if cap is None else cap
    return f"{cap - 1}+" if count >= cap else count


def bell(request) -> dict:
    """The bell in the header of every page: the user's unread count, in one query, and only when
    the page renders it (lazy). A view that counts other things anyway may pass ``unread_count``
    itself, computed in the same query (the grants lists do)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": SimpleLazyObject(lambda: unread_label(Message.objects.unread_count(user)))}
