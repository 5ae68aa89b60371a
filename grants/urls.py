from django.urls import path

from . import views

app_name = "grants"
urlpatterns = [
    path("grants/", views.creator_grants, name="creator_grants"),
    path("grants/new/", views.authorize, name="authorize"),
    path("grants/organizations/", views.organization_search, name="organization_search"),
    path("grants/<id:grant_id>/", views.grant_detail, name="grant_detail"),
    path("grants/<id:grant_id>/revoke/", views.revoke, name="revoke"),
    path("grants/<id:grant_id>/renew-early/", views.renew_early, name="renew_early"),
    path("grants/<id:grant_id>/renew/", views.renew, name="renew"),
    path("requests/", views.creator_requests, name="creator_requests"),
    path("requests/<id:request_id>/approve/", views.approve_request, name="approve_request"),
    path("requests/<id:request_id>/decline/", views.decline_request, name="decline_request"),
    path("requests/<id:request_id>/revoke/", views.revoke_request, name="revoke_request"),
    path("org/", views.org_home, name="org_home"),
    path("perspective/", views.switch_perspective, name="switch_perspective"),
    path("perspective/menu/", views.perspective_menu, name="perspective_menu"),
]
