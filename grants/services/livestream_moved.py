"""A livestream given to another creator: its open requests end (issue 12)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .. import notices
from ..models import (
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    RequestStatus,
)

# --- a livestream given to another creator -------------------------------------------------------


@transaction.atomic
def end_livestream_access(
    *, livestream_ids: Iterable[int], creator_id: int, actor=None
) -> list[LivestreamAccessRequest]:
    """已失效: pending or approved → ended, for every open request of ``livestream_ids`` made to a
    creator other than ``creator_id``, the livestreams' new creator; one history event (``end``)
    each. Returns the ended requests.

    A livestream that changes creator (an import naming another creator, staff in the admin: the
    writers of ``livestreams.writes`` call this in their transaction) takes none of its former
    creator's decisions with it: an approval given by the former creator no longer opens the
    modules (of what is now another creator's data), and a pending request made to the former
    creator is not left for the new one to find. Each request stays with the creator it was made to
    (its ``creator`` copy is not moved), so the new creator never sees approvals they did not give;
    the organization may ask the new creator again. ``actor``: the staff member who moved the
    livestream, None for an import. Ids in, so grants needs nothing of livestreams.
    """
    ended = list(
        LivestreamAccessRequest.objects.select_for_update(of=("self",))
        .select_related("livestream", "organization", "requested_by")
        .filter(livestream_id__in=list(livestream_ids))
        .open()
        .exclude(creator_id=creator_id)
        .order_by("pk")
    )
    if not ended:
        return []
    now = timezone.now()
    LivestreamAccessRequest.objects.filter(pk__in=[r.pk for r in ended]).update(
        status=RequestStatus.ENDED, updated_at=now
    )
    LivestreamAccessEvent.objects.bulk_create(
        LivestreamAccessEvent(request=r, operation=LivestreamAccessEvent.Operation.END, actor=actor, at=now)
        for r in ended
    )
    for access_request in ended:
        access_request.status = RequestStatus.ENDED
        access_request.updated_at = now
    notices.livestream_requests_ended(ended)  # the inbox (SPEC §10), in this transaction
    return ended
