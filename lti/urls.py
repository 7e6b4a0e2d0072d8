from django.urls import path

from lti import views

app_name = "lti"

urlpatterns = [
    # What a school's LMS is told (docs/lti.md): login initiation, launch (redirect URI),
    # the tool's public keys.
    path("login/", views.login_initiation, name="login"),
    path("launch/", views.launch, name="launch"),
    path("jwks/", views.jwks, name="jwks"),
    path("deep-link/", views.deep_link_pick, name="deep_link_pick"),
    path("continue/", views.handover, name="handover"),
]
