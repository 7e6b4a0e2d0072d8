from django.contrib import admin
from django.urls import include, path

from frontend import views as frontend_views

urlpatterns = [
    path("", frontend_views.home, name="home"),
    path("health/", frontend_views.health, name="health"),
    path("accounts/", include("accounts.urls")),
    path("courses/", include("courses.urls")),
    path("learn/", include("learning.urls")),
    path("i18n/", include("accounts.i18n_urls")),
    path("admin/", admin.site.urls),
]
