from django.urls import path

from . import views

app_name = "livestreams"
urlpatterns = [
    path("creators/<int:creator_id>/", views.creator_overview, name="creator_overview"),
    path("livestreams/", views.org_livestreams, name="org_livestreams"),
]
