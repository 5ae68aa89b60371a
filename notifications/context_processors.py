from django.utils.functional import SimpleLazyObject

from portal.compiled import CompiledQuery
from portal.models import User

from . import models
from .models import Message

# The bell is on every page: its query is compiled once (portal.compiled) per cap, and reads at most
# that many ids from the partial index of unread messages.
_UNREAD_IDS: dict[int, CompiledQuery] = {}


def unread_count(user) -> int:
    """``Message.objects.unread_count(user)``, through the compiled query (the same SQL's rows)."""
    cap = models.UNREAD_CAP
    query = _UNREAD_IDS.get(cap)
    if query is None:
        query = _UNREAD_IDS[cap] = CompiledQuery(
            Message, lambda user: Message.objects.unread_ids(User(pk=user), cap), user="id"
        )
    return query.count(user=user.pk)


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
    return {"unread_count": SimpleLazyObject(lambda: unread_label(unread_count(user)))}
