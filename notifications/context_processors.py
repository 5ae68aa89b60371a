from django.db.models import IntegerField, OuterRef, Subquery
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


class _CappedCount(Subquery):
    """``(SELECT COUNT(*) FROM (<the queryset's SQL>))``: how many rows a sliced queryset has."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


# The attribute of the request's user that carries the bell's count (registered in apps.py).
USER_ANNOTATION = "shell_unread_messages"


def unread_with_user(user) -> int | None:
    """The unread count read with the request's user (``unread_annotation``); None for a user
    loaded otherwise (a factory's, a shell's), whose count must be queried."""
    return getattr(user, USER_ANNOTATION, None)


def unread_annotation():
    """The bell's count as an expression on the user query (``portal.backends``): the same capped
    read of the unread index as ``unread_count``, made in the query that loads the request's user,
    so the bell costs no round trip of its own."""
    ids = Message.objects.filter(recipient_id=OuterRef("pk"), read_at__isnull=True).order_by().values("pk")
    return _CappedCount(ids[: models.UNREAD_CAP])


def unread_label(count: int, cap: int | None = None) -> int | str:
    """A capped unread count as shown: exact below the cap, "999+" from it."""
    cap = models.UNREAD_CAP if cap is None else cap
    return f"{cap - 1}+" if count >= cap else count


def bell(request) -> dict:
    """The bell in the header of every page: the user's unread count, read with the user (the
    annotation above), or else in one query when the page renders it (lazy). A view that counts
    other things anyway may pass ``unread_count`` itself, computed in the same query (the grants
    lists do)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    counted = unread_with_user(user)  # read with the user at the start of the request
    if counted is not None:
        return {"unread_count": unread_label(counted)}
    return {"unread_count": SimpleLazyObject(lambda: unread_label(unread_count(user)))}
