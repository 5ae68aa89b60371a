from django.core.exceptions import PermissionDenied
from django.shortcuts import render


def _creator_of(request):
    creator = request.user.creator_or_none
    if creator is None:
        raise PermissionDenied
    return creator


def creator_grants(request):
    _creator_of(request)
    return render(request, "grants/placeholder.html", {"title": "数据授权管理"})


def creator_requests(request):
    _creator_of(request)
    return render(request, "grants/placeholder.html", {"title": "直播间数据管理"})


def org_home(request):
    if request.user.membership_or_none is None:
        raise PermissionDenied
    return render(request, "grants/placeholder.html", {"title": "个人中心"})
