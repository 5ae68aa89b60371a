from django.http import Http404
from django.shortcuts import render

from grants.perspective import creator_data_view


@creator_data_view
def creator_overview(request, creator):
    return render(request, "grants/placeholder.html", {"title": creator.name})


def org_livestreams(request):
    if request.user.membership_or_none is None:
        raise Http404
    return render(request, "grants/placeholder.html", {"title": "合作直播间"})
