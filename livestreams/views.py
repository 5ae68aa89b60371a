from django.http import Http404
from django.shortcuts import get_object_or_404, render

from portal.models import Creator


def creator_overview(request, creator_id: int):
    creator = get_object_or_404(Creator, pk=creator_id)
    if request.user.creator_or_none != creator:
        raise Http404
    return render(request, "grants/placeholder.html", {"title": creator.name})


def org_livestreams(request):
    if request.user.membership_or_none is None:
        raise Http404
    return render(request, "grants/placeholder.html", {"title": "合作直播间"})
