from django.urls import path

from . import views

app_name = "grants"
urlpatterns = [
    path("grants/", views.creator_grants, name="creator_grants"),
    path("grants/new/", views.authorize, name="authorize"),
    path("grants/organizations/", views.organization_search, name="organization_search"),
    path("grants/bulk-revoke/", views.bulk_revoke, name="bulk_revoke"),
    path("grants/<id:grant_id>/", views.grant_detail, name="grant_detail"),
    path("grants/<id:grant_id>/revoke/", views.revoke, name="revoke"),
    path("grants/<id:grant_id>/renew-early/", views.renew_early, name="renew_early"),
    path("grants/<id:grant_id>/renew/", views.renew, name="renew"),
    path("grants/<id:grant_id>/scope/", views.change_scope, name="change_scope"),
    path("grants/<id:grant_id>/delegation/", views.set_delegation_allowed, name="set_delegation_allowed"),
    path("grants/requests/bulk/", views.bulk_grant_requests, name="bulk_grant_requests"),
    path("grants/requests/<id:grant_request_id>/", views.grant_request_detail, name="grant_request_detail"),
    path("grants/requests/<id:grant_request_id>/approve/", views.approve_grant_request, name="approve_grant_request"),
    path("grants/requests/<id:grant_request_id>/decline/", views.decline_grant_request, name="decline_grant_request"),
    path("requests/", views.creator_requests, name="creator_requests"),
    path("requests/bulk/", views.bulk_requests, name="bulk_requests"),
    path("requests/<id:request_id>/approve/", views.approve_request, name="approve_request"),
    path("requests/<id:request_id>/decline/", views.decline_request, name="decline_request"),
    path("requests/<id:request_id>/revoke/", views.revoke_request, name="revoke_request"),
    path("org/", views.org_home, name="org_home"),
    path("org/requests/new/", views.request_grant, name="request_grant"),
    path("org/creators/", views.creator_search, name="creator_search"),
    path("org/grants/<id:grant_id>/extend/", views.request_extension, name="request_extension"),
    path("org/grants/<id:grant_id>/delegations/", views.delegate, name="delegate"),
    path("org/delegations/<id:delegation_id>/end/", views.end_delegation, name="end_delegation"),
    path("perspective/", views.switch_perspective, name="switch_perspective"),
    path("perspective/menu/", views.perspective_menu, name="perspective_menu"),
]
