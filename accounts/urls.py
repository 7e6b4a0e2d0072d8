from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_verify, name="login_verify"),
    path("security/", views.two_factor_settings, name="two_factor"),
    path("logout/", views.logout_view, name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("classes/new/", views.classroom_create, name="classroom_create"),
    path("classes/join/", views.classroom_join, name="classroom_join"),
    path("classes/<int:classroom_id>/", views.classroom_detail, name="classroom_detail"),
    path(
        "classes/<int:classroom_id>/code/",
        views.classroom_code_regenerate,
        name="classroom_code_regenerate",
    ),
]
