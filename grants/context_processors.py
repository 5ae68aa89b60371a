import datetime
from typing import NamedTuple

from django.utils.functional import SimpleLazyObject

from portal.models import Creator

from .access import CompiledQuery
from .models import Grant, today
from .perspective import OWN
from .views import _pending_badge

SWITCHER_OPTIONS = 12


class SwitcherOption(NamedTuple):
    """A creator the main account can switch to: what the switcher shows of the grant."""

    pk: int
    creator_id: int
    ends_on: datetime.date
    creator: Creator


# The switcher is on every page of a main account, so its query is compiled once from the ORM (as
# the access checks are, see grants.access.CompiledQuery): the same SQL and index scans as
# ``for_organization().latest_per_pair().active_on().order_by(...)[:12]`` with the creator joined,
# without building and compiling that QuerySet on each request.
_OPTIONS = CompiledQuery(
    Grant,
    lambda organization, day: (
        Grant.objects.for_organization(organization)
        .latest_per_pair()
        .active_on(day)
        .order_by("ends_on", "pk")
        .values_list("pk", "creator_id", "ends_on", "creator__name", "creator__avatar", "creator__user_id")[
            :SWITCHER_OPTIONS
        ]
    ),
    organization="id",
    day="date",
)


def switcher_options(organization_id: int) -> list[SwitcherOption]:
    """The creators whose full-data grant to the organization is active today, nearest end first."""
    as_date = Grant._meta.get_field("ends_on").to_python  # the raw row's date (a string on SQLite)
    return [
        SwitcherOption(
            pk, creator_id, as_date(ends_on), Creator(id=creator_id, name=name, avatar=avatar, user_id=user_id)
        )
        for pk, creator_id, ends_on, name, avatar, user_id in _OPTIONS.rows(organization=organization_id, day=today())
    ]


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
        context["perspective_options"] = SimpleLazyObject(lambda: switcher_options(membership.organization_id))
    return context
