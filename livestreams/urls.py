from django.urls import path

from . import creator_views, views

app_name = "livestreams"
urlpatterns = [
    path("creators/<id:creator_id>/", creator_views.overview, name="creator_overview"),
    path("creators/<id:creator_id>/livestreams/", creator_views.livestream_list, name="creator_livestreams"),
    path("creators/<id:creator_id>/livestreams.csv", creator_views.export_csv, name="creator_export"),
    # 以商家视角预览: the same views, for the creator only, through a preview token (SPEC §11).
    path("creators/<id:creator_id>/preview/<str:preview>/", creator_views.overview, name="creator_preview"),
    path(
        "creators/<id:creator_id>/preview/<str:preview>/livestreams/",
        creator_views.livestream_list,
        name="creator_preview_livestreams",
    ),
    path("livestreams/", views.org_livestreams, name="org_livestreams"),
    path("livestreams/<id:livestream_id>/", views.detail, name="detail"),
    path("livestreams/<id:livestream_id>/unlock/", views.unlock, name="unlock"),
    path("livestreams/<id:livestream_id>/big-screen/", views.big_screen, name="big_screen"),
    path("livestreams/<id:livestream_id>/traffic/", views.traffic, name="traffic"),
    path("livestreams/<id:livestream_id>/audience/", views.audience, name="audience"),
]
