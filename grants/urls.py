from django.urls import path

from . import views

app_name = "grants"
urlpatterns = [
    path("grants/", views.creator_grants, name="creator_grants"),
    path("requests/", views.creator_requests, name="creator_requests"),
    path("org/", views.org_home, name="org_home"),
]
